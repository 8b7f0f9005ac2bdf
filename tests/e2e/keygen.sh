#!/usr/bin/env bash
# keygen.sh - `tunetrail keygen` makes a key pair a user can sign records
# with: both files in the documented one-line formats, the secret one 0600,
# the keyid printed = SHA-256 of the public key; a second run refuses to
# replace the pair and names the file; --force replaces it; the default
# directory is $TUNETRAIL_HOME/keys; a bad flag exits 2 with the usage.
source "$(dirname "$0")/lib/common.sh"

need_exe "$TT_BIN/tunetrail" python3
cd "$T"

say "keygen -o DIR writes DIR/tunetrail.key and .pub and prints them with the keyid"
tt keygen -o "$T/keys" >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "keygen -o $T/keys failed"; }
[ -f "$T/keys/tunetrail.key" ] || fail "no $T/keys/tunetrail.key"
[ -f "$T/keys/tunetrail.pub" ] || fail "no $T/keys/tunetrail.pub"
grep -qF "$T/keys/tunetrail.key" "$T/out" || fail "output does not name the .key: $(cat "$T/out")"
grep -qF "$T/keys/tunetrail.pub" "$T/out" || fail "output does not name the .pub: $(cat "$T/out")"
expect_eq "$(stat -c %a "$T/keys/tunetrail.key")" 600 "mode of tunetrail.key"
expect_eq "$(stat -c %a "$T/keys")" 700 "mode of the key directory"

say "file formats and keyid = hex SHA-256 of the 32-byte public key"
timeout 30 python3 - "$T/keys" "$T/out" <<'PY' || fail "key files or keyid wrong (see above)"
import base64, hashlib, re, sys
d, out = sys.argv[1], open(sys.argv[2]).read()
pub = open(d + "/tunetrail.pub").read()
sec = open(d + "/tunetrail.key").read()
m = re.fullmatch(r"tunetrail-ed25519-public v1 ([A-Za-z0-9+/=]+)\n", pub)
assert m, "bad .pub: %r" % pub
pk = base64.b64decode(m.group(1), validate=True)
assert len(pk) == 32, len(pk)
m = re.fullmatch(r"tunetrail-ed25519-secret v1 ([A-Za-z0-9+/=]+)\n", sec)
assert m, "bad .key format"
sk = base64.b64decode(m.group(1), validate=True)
assert len(sk) == 64 and sk[32:] == pk, "secret key is not seed || public key"
kid = hashlib.sha256(pk).hexdigest()
assert re.search(r"^keyid: " + kid + "$", out, re.M), "keyid %s not printed in %r" % (kid, out)
print("[keygen]   ok: formats and keyid", kid)
PY
PUB1=$(cat "$T/keys/tunetrail.pub")

say "a second run refuses, naming the file, and leaves the pair alone"
tt_rc rc keygen -o "$T/keys" >"$T/out" 2>"$T/err"
expect_eq "$rc" 1 "exit status of keygen over an existing key"
grep -qF "$T/keys/tunetrail.key" "$T/err" || fail "error does not name the file: $(cat "$T/err")"
grep -qF -- "--force" "$T/err" || fail "error does not mention --force: $(cat "$T/err")"
expect_eq "$(cat "$T/keys/tunetrail.pub")" "$PUB1" "public key after the refused run"

say "--force replaces the pair"
tt keygen -o "$T/keys" --force >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "keygen --force failed"; }
[ "$(cat "$T/keys/tunetrail.pub")" != "$PUB1" ] || fail "--force did not replace the key"
expect_eq "$(stat -c %a "$T/keys/tunetrail.key")" 600 "mode of the replaced tunetrail.key"
expect_eq "$(ls -A "$T/keys" | sort | tr '\n' ' ')" "tunetrail.key tunetrail.pub " "files in the key directory (no temporaries left)"

say "--name and the default directory \$TUNETRAIL_HOME/keys"
tt keygen --name lab >"$T/out" 2>"$T/err" || { cat "$T/err" >&2; fail "keygen --name lab failed"; }
[ -f "$TUNETRAIL_HOME/keys/lab.key" ] && [ -f "$TUNETRAIL_HOME/keys/lab.pub" ] ||
    fail "keygen --name lab did not write $TUNETRAIL_HOME/keys/lab.{key,pub}"
expect_eq "$(stat -c %a "$TUNETRAIL_HOME/keys/lab.key")" 600 "mode of lab.key"

say "bad flags exit 2 with the usage; --help exits 0"
for args in "--bogus-flag" "-o" "--name" "extra-arg" "--name a/b"; do
    # shellcheck disable=SC2086
    tt_rc rc keygen $args >"$T/out" 2>"$T/err"
    expect_eq "$rc" 2 "exit status of keygen $args"
    grep -q "usage: tunetrail keygen" "$T/err" || grep -q "name" "$T/err" ||
        fail "keygen $args: no usage on stderr: $(cat "$T/err")"
done
grep -qF -- "--bogus-flag" <(tt keygen --bogus-flag 2>&1 || true) || fail "error does not name --bogus-flag"
tt keygen --help >"$T/out" || fail "keygen --help failed"
grep -q "usage: tunetrail keygen" "$T/out" || fail "keygen --help prints no usage"
tt --help | grep -q "keygen" || fail "tunetrail --help does not list keygen"

echo "[$TT_NAME] PASS"
