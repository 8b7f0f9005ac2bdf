#!/usr/bin/env bash
# systemd_unit.sh - packaging/tunetraild.service as CMake configured it passes
# `systemd-analyze verify` without a word (an unknown option, a bad value or a
# missing executable would be said), and its ExecStartPre is a --check of the
# very flags ExecStart uses.
source "$(dirname "$0")/lib/common.sh"

need_exe systemd-analyze "$TT_BIN/tunetraild"
UNIT=$TT_BUILD/packaging/tunetraild.service
[ -r "$UNIT" ] || fail "$UNIT was not configured"
bindir=$(sed -n 's|^ExecStart=\(.*\)/tunetraild .*|\1|p' "$UNIT")
[ -n "$bindir" ] || fail "no ExecStart=.../tunetraild in $UNIT"
# The installed path may not exist here: point it at this build's tunetraild.
mkdir -p "$T/unit"
sed "s|$bindir/tunetraild|$TT_BIN/tunetraild|g" "$UNIT" >"$T/unit/tunetraild.service"

say "systemd-analyze verify says nothing"
rc=0
systemd-analyze verify "$T/unit/tunetraild.service" >"$T/verify.out" 2>&1 || rc=$?
expect_eq "$rc" 0 "systemd-analyze verify exit code: $(cat "$T/verify.out")"
[ ! -s "$T/verify.out" ] || fail "systemd-analyze verify: $(cat "$T/verify.out")"

say "ExecStartPre checks the flags ExecStart serves with; reload is SIGHUP"
grep -qx 'ExecStartPre=.*/tunetraild --check $TUNETRAILD_FLAGS' "$UNIT" || fail "no --check of the same flags"
grep -qx 'ExecStart=.*/tunetraild $TUNETRAILD_FLAGS' "$UNIT" || fail "ExecStart does not use TUNETRAILD_FLAGS"
grep -qx 'ExecReload=/bin/kill -HUP $MAINPID' "$UNIT" || fail "no ExecReload with SIGHUP"
for opt in StateDirectory=tunetrail NoNewPrivileges=yes ProtectSystem=strict ProtectHome=yes PrivateTmp=yes \
    PrivateDevices=yes 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' SystemCallFilter=@system-service \
    MemoryDenyWriteExecute=yes LockPersonality=yes User=tunetrail; do
    grep -qx "$opt" "$UNIT" || fail "$UNIT lacks $opt"
done
echo "[$TT_NAME] ok"
