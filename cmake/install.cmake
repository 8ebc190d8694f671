# What `make install` and the Debian package install (cmake --install; DESTDIR honoured).
# The module is not here: kbuild builds it, `make install-module` or DKMS installs it.
#
#   bin/httpcloop                       the program
#   bin/httpcloop-mkpreboot             scripts/mkpreboot: builds the preboot initramfs
#   libexec/httpcloop/httpcloop-boot    the static preboot (mkpreboot's default)
#   share/man/man8/                     httpcloop(8), httpcloop-boot(8), httpcloop-mkpreboot(8)
#   share/bash-completion/completions/  httpcloop
#   HTTPCLOOP_SYSTEMD_UNIT_DIR          httpcloop@.service, httpcloop-fuse@.service
#   HTTPCLOOP_INITRAMFS_TOOLS_DIR       root=httpcloop: for initramfs-tools
execute_process(COMMAND pkg-config --variable=systemdsystemunitdir systemd
  OUTPUT_VARIABLE systemd_unit_dir OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
if(NOT systemd_unit_dir)
  set(systemd_unit_dir /lib/systemd/system)
endif()
set(HTTPCLOOP_SYSTEMD_UNIT_DIR "${systemd_unit_dir}" CACHE PATH "where the systemd units go")
# initramfs-tools reads only /usr/share/initramfs-tools and /etc/initramfs-tools, whatever
# the prefix.
set(HTTPCLOOP_INITRAMFS_TOOLS_DIR /usr/share/initramfs-tools CACHE PATH
  "where initramfs-tools' hook and boot scripts go")

set(preboot_dir "${CMAKE_INSTALL_LIBEXECDIR}/httpcloop")
install(TARGETS httpcloop RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}")
install(TARGETS httpcloop-boot RUNTIME DESTINATION "${preboot_dir}")

# Installed copies name installed paths: mkpreboot's default preboot, the units' program.
set(generated "${CMAKE_BINARY_DIR}/install")
file(READ "${PROJECT_SOURCE_DIR}/scripts/mkpreboot" text)
set(installed_boot "${CMAKE_INSTALL_PREFIX}/${preboot_dir}/httpcloop-boot")
string(REPLACE [["$ROOT/build/userspace/httpcloop-boot"]] "\"${installed_boot}\"" installed "${text}")
if(installed STREQUAL text)
  message(FATAL_ERROR "scripts/mkpreboot: the default httpcloop-boot line was not found")
endif()
string(REPLACE "build/userspace/httpcloop-boot" "${installed_boot}" installed "${installed}")
string(REPLACE "scripts/mkpreboot" "httpcloop-mkpreboot" installed "${installed}")
file(WRITE "${generated}/httpcloop-mkpreboot" "${installed}")
file(CHMOD "${generated}/httpcloop-mkpreboot" FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE
  GROUP_READ GROUP_EXECUTE WORLD_READ WORLD_EXECUTE)
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/scripts/mkpreboot")
install(PROGRAMS "${generated}/httpcloop-mkpreboot" DESTINATION "${CMAKE_INSTALL_BINDIR}")

foreach(unit httpcloop@.service httpcloop-fuse@.service)
  file(READ "${PROJECT_SOURCE_DIR}/systemd/${unit}" text)
  string(REPLACE "/usr/bin/httpcloop" "${CMAKE_INSTALL_FULL_BINDIR}/httpcloop" text "${text}")
  file(WRITE "${generated}/${unit}" "${text}")
  set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/systemd/${unit}")
  install(FILES "${generated}/${unit}" DESTINATION "${HTTPCLOOP_SYSTEMD_UNIT_DIR}")
endforeach()

# Component initramfs: also installed alone into a root tree (make install-initramfs).
install(PROGRAMS initramfs-tools/hooks/httpcloop DESTINATION "${HTTPCLOOP_INITRAMFS_TOOLS_DIR}/hooks"
  COMPONENT initramfs)
install(PROGRAMS initramfs-tools/scripts/init-top/httpcloop
  DESTINATION "${HTTPCLOOP_INITRAMFS_TOOLS_DIR}/scripts/init-top" COMPONENT initramfs)
install(FILES initramfs-tools/scripts/httpcloop DESTINATION "${HTTPCLOOP_INITRAMFS_TOOLS_DIR}/scripts"
  COMPONENT initramfs)

install(FILES completions/httpcloop DESTINATION "${CMAKE_INSTALL_DATADIR}/bash-completion/completions")

# The man pages, from the built programs' --help and docs/ (scripts/mkman).
set(man_dir "${CMAKE_BINARY_DIR}/man")
set(man_pages "${man_dir}/httpcloop.8" "${man_dir}/httpcloop-boot.8" "${man_dir}/httpcloop-mkpreboot.8")
add_custom_command(OUTPUT ${man_pages}
  COMMAND "${PROJECT_SOURCE_DIR}/scripts/mkman" --httpcloop "$<TARGET_FILE:httpcloop>"
    --boot "$<TARGET_FILE:httpcloop-boot>" --mkpreboot "${generated}/httpcloop-mkpreboot" "${man_dir}"
  DEPENDS httpcloop httpcloop-boot "${generated}/httpcloop-mkpreboot" "${PROJECT_SOURCE_DIR}/scripts/mkman"
    "${PROJECT_SOURCE_DIR}/kernel/main.c" "${PROJECT_SOURCE_DIR}/docs/sysfs-abi.md"
    "${PROJECT_SOURCE_DIR}/docs/format.md"
  COMMENT "man pages (scripts/mkman)")
add_custom_target(man ALL DEPENDS ${man_pages})
install(FILES ${man_pages} DESTINATION "${CMAKE_INSTALL_MANDIR}/man8")
