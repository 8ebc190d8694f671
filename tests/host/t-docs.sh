#!/usr/bin/env bash
# The documentation cannot drift from the programs: scripts/mkman writes httpcloop(8) and
# httpcloop-boot(8) from --help, kernel/main.c and docs/, and groff renders them with no
# warning; every option of every subcommand's --help is an entry of the man page; an option the
# README names for a subcommand exists in its --help, and every subcommand has a README
# section; every kernel parameter httpcloop-boot accepts is documented (docs/format.md,
# hence the man page) and every documented one is accepted; every module parameter is in
# the man page and in docs/sysfs-abi.md.
# shellcheck source-path=SCRIPTDIR source=../vm/lib.sh
source "$(dirname "$0")/../vm/lib.sh"

src=$HTTPCLOOP_SRC
boot=$(dirname "$HTTPCLOOP")/httpcloop-boot
work=$(mktemp -d /tmp/httpcloop-docs-test.XXXXXX)
cleanup rm -rf "$work"
"$src/scripts/mkman" --httpcloop "$HTTPCLOOP" --boot "$boot" "$work/man"
for page in httpcloop.8 httpcloop-boot.8 httpcloop-mkpreboot.8; do
	warnings=$(groff -man -ww -z "$work/man/$page" 2>&1)
	[ -z "$warnings" ] || fail "groff warns about $page: $warnings"
done
# The pages as text, with roff's escapes for - undone.
man_main=$(sed 's/\\-/-/g' "$work/man/httpcloop.8")
man_boot=$(sed 's/\\-/-/g' "$work/man/httpcloop-boot.8")

# long_options TEXT: the --options a --help text lists: every one in the option column of
# an option line (up to two spaces), so that "--pubkey FILE, --sha256 HEX" gives both.
long_options() { grep -E '^ +-' | sed -E 's/^ +//; s/  .*$//' | grep -oE -- '--[a-z0-9-]+' | sort -u; }

problems=()
commands=$("$HTTPCLOOP" --help | sed -n '/^Commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }')
[ "$(wc -w <<<"$commands")" -ge 10 ] || fail "too few commands in httpcloop --help: $commands"
for command in $commands; do
	help=$("$HTTPCLOOP" "$command" --help)
	grep -q "^\.SS $command\$" <<<"$man_main" || problems+=("httpcloop.8 has no section for $command")
	for option in $(long_options <<<"$help"); do
		grep -qE -- "^\.B (.*, )?$option( |,|\$)" <<<"$man_main" || problems+=("httpcloop.8 lacks $command $option as an entry")
	done
	section=$(awk -v head="### \`httpcloop $command " 'index($0, head) == 1 { on = 1; print; next } /^#/ { on = 0 } on' "$src/README.md")
	[ -n "$section" ] || problems+=("README.md has no section '### \`httpcloop $command ...'")
	# "--opt", or "other-command --opt" (a reference to another subcommand's option).
	while read -r before option; do
		if [ "$before" != - ] && [ "$before" != "$command" ] && grep -qx -- "$before" <<<"$commands"; then
			continue
		fi
		grep -qE -- "(^|[ ,])$option([ =]|$)" <<<"$help" ||
			problems+=("README.md's $command section names $option, which httpcloop $command --help lacks")
	done < <({ grep -oE -- '([a-z][a-z-]* )?--[a-z][a-z0-9-]+' <<<"$section" || true; } | sed -E 's/^(--.*)$/- \1/' | sort -u)
done

for option in $("$boot" --help | long_options); do
	grep -qE -- "^\.B (.*, )?$option( |,|\$)" <<<"$man_boot" || problems+=("httpcloop-boot.8 lacks $option as an entry")
done
accepted=$(grep -oE 'key == "[a-z.]+"' "$src/userspace/boot_format/kernel_cmdline.cpp" | cut -d'"' -f2 | sort -u)
[ "$(wc -w <<<"$accepted")" -ge 10 ] || fail "found too few kernel parameters in kernel_cmdline.cpp: $accepted"
documented=$(sed -n '/^## Preboot parameters/,/^## /p' "$src/docs/format.md" | grep -oE '^\| `[a-z.]+=' | sed 's/^| `//; s/=$//' | sort -u)
for key in $accepted; do
	grep -qx -- "$key" <<<"$documented" || problems+=("kernel parameter $key is accepted but not in docs/format.md")
	grep -qF -- "$key=" <<<"$man_boot" || problems+=("httpcloop-boot.8 lacks $key")
done
for key in $documented; do
	grep -qx -- "$key" <<<"$accepted" || problems+=("docs/format.md documents $key, which httpcloop-boot does not accept")
done

params=$(grep -ohE 'module_param(_named|_cb)?\([a-z_]+' "$src"/kernel/*.c | sed 's/.*(//' | sort -u)
[ -n "$params" ] || fail "no module parameters found in kernel/"
for param in $params; do
	grep -q "^\.B $param\$" <<<"$man_main" || problems+=("httpcloop.8 lacks module parameter $param")
	grep -q "\`$param\`" "$src/docs/sysfs-abi.md" || problems+=("docs/sysfs-abi.md lacks module parameter $param")
done

if [ ${#problems[@]} -gt 0 ]; then
	printf '  %s\n' "${problems[@]}"
	fail "${#problems[@]} documentation problems"
fi
log "docs OK: $(wc -w <<<"$commands") commands, $(wc -w <<<"$accepted") kernel parameters, $(wc -w <<<"$params") module parameters"
