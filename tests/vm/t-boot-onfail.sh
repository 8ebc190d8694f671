#!/usr/bin/env bash
# What httpcloop-boot does after a failure, as httpcloop.onfail= (or --on-fail) asks:
# exit with status 1; drop to a shell; and reboot after the delay, which ends this VM
# (QEMU runs with -no-reboot): vm-run passes only when the console shows the reboot
# notice and the script did not go on past it.
# vm-timeout: 120
# vm-expect-console: httpcloop-boot: rebooting in 1 s
# shellcheck source-path=SCRIPTDIR source=lib.sh
source "$(dirname "$0")/lib.sh"
# shellcheck source-path=SCRIPTDIR source=boot-lib.sh
source "$(dirname "$0")/boot-lib.sh"
require_boot_tools
gone=http://127.0.0.1:8099/boot/ # nothing listens there

log "onfail=exit"
echo "httpcloop.boot=$gone httpcloop.onfail=exit" >/tmp/cmdline-exit
rc=0
"$HCBOOT" --cmdline-file /tmp/cmdline-exit --timeout 2 2>/tmp/out || rc=$?
check_eq 1 "$rc" "status with onfail=exit"
grep -q 'FAILED: no verified boot manifest' /tmp/out || fail "no failure message: $(cat /tmp/out)"

log "onfail=shell: the shell gets the console (here it reads an empty input and ends)"
echo "httpcloop.boot=$gone httpcloop.onfail=shell" >/tmp/cmdline-shell
rc=0
echo 'echo "shell got control: $0"; exit 7' | "$HCBOOT" --cmdline-file /tmp/cmdline-shell --timeout 2 >/tmp/out 2>&1 || rc=$?
check_eq 7 "$rc" "status of the shell"
grep -q 'dropping to a shell' /tmp/out || fail "no shell notice: $(cat /tmp/out)"
grep -q 'shell got control' /tmp/out || fail "the shell did not run: $(cat /tmp/out)"

log "--on-fail reboot --delay 1 (wins over the command line's shell): this VM ends now"
sync
"$HCBOOT" --cmdline-file /tmp/cmdline-shell --on-fail reboot --delay 1 --timeout 2 </dev/null
fail "httpcloop-boot returned instead of rebooting"
