#!/usr/bin/env bash
# report_html.sh - `tunetrail report` on the sample record (tests/data/record-sample.json
# wrapped in a DSSE envelope; report does not verify, so the signature is a
# dummy): the HTML has its plots, numbers and a CSP, escapes a <script> param
# value, opens in headless Chromium with a non-blank screenshot and makes no
# network request; --format md gives the "Search disclosure" section; bad
# flags and bad records fail naming the flag or the file; report --study of
# a small svm-train study recorded here.
source "$(dirname "$0")/lib/common.sh"
tt_requires_adapter libsvm

need_exe "$TT_BIN/tunetrail" python3 svm-train
command -v chromium >/dev/null 2>&1 ||
    fail "chromium is missing: run scripts/install-deps.sh (CI installs it) to open the report headless"
cd "$T"
TUNE=$TT_BIN/tunetrail

# wrap FILE OUT - DSSE envelope around a Statement; a kernel value becomes a
# script tag so escaping is exercised on user data.
wrap() {
    python3 - "$1" "$2" <<'EOF'
import base64, json, sys
st = json.load(open(sys.argv[1]))
for t in st["predicate"]["trials"]:
    t["params"]["kernel"] = "<script>alert(1)</script>"
for c in st["predicate"]["choices"]:
    if c["key"] == "kernel":
        c["released"] = "<script>alert(1)</script>"
        c["values"][0]["value"] = "<script>alert(1)</script>"
body = json.dumps(st).encode()
env = {"payload": base64.b64encode(body).decode(), "payloadType": "application/vnd.in-toto+json",
       "signatures": [{"keyid": "ab" * 32, "sig": base64.b64encode(bytes(64)).decode()}]}
open(sys.argv[2], "w").write(json.dumps(env) + "\n")
EOF
}
wrap "$TT_SRC/tests/data/record-sample.json" "$T/rec.json"

say "HTML report of the sample record"
tt report --record "$T/rec.json" -o "$T/report.html" || fail "tunetrail report exited $?"
H=$T/report.html
nsvg=$(grep -o '<svg' "$H" | wc -l)
[ "$nsvg" -ge 5 ] || fail "expected >= 5 plots (time, E[max], 3 varied choices), got $nsvg <svg"
echo "[$TT_NAME]   ok: $nsvg plots"
grep -q "Content-Security-Policy\" content=\"default-src 'none'" "$H" || fail "no CSP meta"
grep -q '<b>12</b><span>1 failed, 1 killed, 10 ok' "$H" || fail "trial count card (12: 1 failed, 1 killed, 10 ok) missing"
grep -q '<b>16.7%</b>' "$H" || fail "failure rate 16.7% missing"
grep -q '<b>1 of 10</b>' "$H" || fail "released rank 1 of 10 missing"
grep -q 'never varied' "$H" || fail "never-varied key not said"
grep -q '7d7d7d7d' "$H" || fail "log root missing"
grep -q '<script' "$H" && fail "a <script> param value is not escaped"
grep -q '&lt;script&gt;alert(1)&lt;/script&gt;' "$H" || fail "escaped param value not shown"
grep -Eiq '(src|href)=|url\(|@import|https?://[a-z]' <(sed 's#http://www.w3.org/2000/svg##g' "$H") &&
    fail "the HTML references something to fetch"
echo "[$TT_NAME]   ok: numbers, escaping, nothing to fetch"

say "headless Chromium: screenshot not blank"
chrome() {
    timeout -k 5 90 chromium --headless --no-sandbox --disable-gpu --disable-dev-shm-usage \
        --disable-background-networking --no-first-run --user-data-dir="$T/chr" \
        --window-size=1200,2400 "$@" "file://${H}" >"$T/chrome.log" 2>&1 ||
        { tail -5 "$T/chrome.log" >&2; fail "chromium failed ($*)"; }
}
chrome --screenshot="$T/shot.png"
[ -s "$T/shot.png" ] || fail "no screenshot"
python3 - "$T/shot.png" <<'EOF' || fail "screenshot is blank or unreadable"
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
assert data[:8] == b"\x89PNG\r\n\x1a\n"
pos, idat, w = 8, b"", 0
while pos < len(data):
    n, typ = struct.unpack(">I4s", data[pos:pos + 8])
    chunk = data[pos + 8:pos + 8 + n]
    if typ == b"IHDR":
        w, h, depth, ctype = struct.unpack(">IIBB", chunk[:10])
        assert depth == 8 and ctype in (2, 6), (depth, ctype)
        bpp = 3 if ctype == 2 else 4
    elif typ == b"IDAT":
        idat += chunk
    pos += 12 + n
raw = zlib.decompress(idat)
stride = w * bpp
prev = bytearray(stride)
colored = dark = 0
for y in range(h):
    f = raw[y * (stride + 1)]
    line = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):  # undo the PNG row filter
        a = line[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    for x in range(0, stride, bpp):
        r, g, bl = line[x], line[x + 1], line[x + 2]
        if r < 200 or g < 200 or bl < 200:
            dark += 1
        if abs(r - bl) > 60:  # the blue points, red marks, green line of the plots
            colored += 1
    prev = line
print("non-white pixels: %d, coloured: %d of %d" % (dark, colored, w * h))
assert dark > 20000 and colored > 2000
EOF

say "no network request while opening it"
# Chromium itself talks to Google in the background (component updates,
# accounts, spelling dictionaries) whatever the flags; the page's own
# requests are those whose network isolation key / site for cookies is the
# file:// page. A control page with one <img> proves the check sees them.
page_requests() { # NETLOG -> the http(s) URLs the page asked for, one a line
    python3 - "$1" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
urls = set()
for e in d.get("events", []):
    p = e.get("params") or {}
    u = p.get("url", "")
    if not u.startswith(("http://", "https://")):
        continue
    ctx = str(p.get("network_isolation_key", "")) + str(p.get("site_for_cookies", ""))
    if "file://" in ctx or p.get("initiator") == "null":
        urls.add(u)
for u in sorted(urls):
    print(u)
EOF
}
echo '<html><body><img src="http://127.0.0.1:9/probe.png">control</body></html>' >"$T/control.html"
H=$T/control.html chrome --log-net-log="$T/control-net.json" --dump-dom
page_requests "$T/control-net.json" | grep -q 'http://127.0.0.1:9/probe.png' ||
    fail "the net-log check does not see a page's request (control page)"
chrome --log-net-log="$T/net.json" --dump-dom
[ -s "$T/net.json" ] || fail "chromium wrote no net log"
page_requests "$T/net.json" >"$T/urls"
[ ! -s "$T/urls" ] || { cat "$T/urls" >&2; fail "the report made network requests"; }
echo "[$TT_NAME]   ok: the page requested no http(s) URL (the control page's request was seen)"

say "--format md: the Search disclosure section"
tt report --record "$T/rec.json" --format md -o "$T/card.md"
grep -q '^## Search disclosure$' "$T/card.md" || fail "no '## Search disclosure' heading"
grep -q '| Trials tried (failed and killed included) | 12 (' "$T/card.md" || fail "md: trial count"
grep -q 'rank 1 of 10' "$T/card.md" || fail "md: released rank"
grep -q 'Never-varied choices (untested defaults) | 1: kernel' "$T/card.md" || fail "md: never-varied"
grep -q 'n=5: ' "$T/card.md" || fail "md: expected best at n=5"
grep -q '<script' "$T/card.md" && fail "md: unescaped <script>"
grep -q 'checkable with `tunetrail verify`' "$T/card.md" || fail "md of a signed record: not said checkable"
tt report --record "$T/rec.json" --format md -o - | cmp -s - "$T/card.md" || fail "-o - differs from -o FILE"
echo "[$TT_NAME]   ok: md section"

say "errors name the flag or the file"
expect_fail() { # WANT_RC NEEDLE ARGS...
    local want=$1 needle=$2 rc=0
    shift 2
    tt report "$@" >"$T/out" 2>"$T/err" || rc=$?
    [ "$rc" = "$want" ] || { cat "$T/err" >&2; fail "report $*: exit $rc, expected $want"; }
    grep -qF -- "$needle" "$T/err" || { cat "$T/err" >&2; fail "report $*: stderr lacks '$needle'"; }
}
expect_fail 2 "--bogus" --record "$T/rec.json" --bogus -o x.html
expect_fail 2 "--format" --record "$T/rec.json" --format pdf -o x.html
expect_fail 2 "-o" --record "$T/rec.json"
expect_fail 2 "--objective" --record "$T/rec.json" --objective cv_accuracy:min -o x.html
expect_fail 1 "$T/missing.json" --record "$T/missing.json" -o x.html
echo 'not json' >"$T/bad.json"
expect_fail 1 "$T/bad.json" --record "$T/bad.json" -o x.html
python3 -c 'import base64,json; print(json.dumps({"payload": base64.b64encode(b"{\"_type\": \"x\"}").decode(), "payloadType": "application/vnd.in-toto+json", "signatures": [{"keyid": "", "sig": "AAAA"}]}))' >"$T/notst.json"
expect_fail 1 "in-toto Statement" --record "$T/notst.json" -o x.html
[ ! -e x.html ] || fail "a failed report left x.html"
tt report --help | grep -q -- '--format' || fail "--help does not teach --format"
say "report --study on a real recorded study (svm-train -v 3 with four values of -c)"
cp /usr/share/doc/liblinear-tools/examples/heart_scale "$T/heart_scale"
for c in 0.5 2 8 32; do
    tt_rc rc run --study small --store "$DB" -- svm-train -v 3 -c "$c" heart_scale >/dev/null
    expect_eq "$rc" 0 "svm-train -v 3 -c $c exit code"
done
tt report --study small --store "$DB" -o "$T/study.html" || fail "report --study exited $?"
S=$T/study.html
grep -q '<b>4</b><span>4 ok' "$S" || fail "study report: trial count card (4: 4 ok) missing"
grep -q ' 4 leaves carried in the record; 4 counted trials' "$S" || fail "study report: 4 leaves / 4 trials"
grep -q '<title>libsvm.C</title>' "$S" || fail "study report: no plot of the objective against libsvm.C"
[ "$(grep -o '<circle class="pt"' "$S" | wc -l)" -ge 8 ] ||
    fail "study report: expected >= 8 trial marks (4 in time order, 4 against libsvm.C)"
tt report --study small --store "$DB" --format md -o "$T/study.md"
grep -q '| Trials tried (failed and killed included) | 4 (' "$T/study.md" || fail "study md: trial count"
grep -q 'checkable with' "$T/study.md" && fail "study md (no record, nothing signed) claims to be checkable with verify"
grep -q 'it is not a signed record' "$T/study.md" || fail "study md does not say it is not a signed record"
say "a search that is neither grid nor random reads 'an other search'"
for cg in "0.5 1" "2 1" "8 1" "2 0.5"; do
    set -- $cg
    tt_rc rc run --study mixed --store "$DB" -- svm-train -v 3 -c "$1" -g "$2" heart_scale >/dev/null
    expect_eq "$rc" 0 "svm-train -v 3 -c $1 -g $2 exit code"
done
tt report --study mixed --store "$DB" --format md -o "$T/mixed.md" || fail "report --study mixed exited $?"
tt report --study mixed --store "$DB" -o "$T/mixed.html" || fail "report --study mixed (html) exited $?"
grep -q 'look like an other search' "$T/mixed.md" || fail "mixed md: no 'look like an other search'"
grep -q 'look like an <b>other</b> search' "$T/mixed.html" || fail "mixed html: no 'look like an other search'"
grep -qE 'look like a [aeiou]|look like a <b>[aeiou]' "$T/study.md" "$T/card.md" "$S" "$T/mixed.md" "$T/mixed.html" &&
    fail "'look like a' before a vowel"
tt report --study small --store "$DB" --objective cv_accuracy:min -o "$T/min.html" ||
    fail "report --study --objective cv_accuracy:min exited $?"
grep -q 'lower is better' "$T/min.html" || fail "study report with :min does not say lower is better"
echo "[$TT_NAME]   ok: report --study of a recorded svm-train study"
echo "[$TT_NAME] PASS"
