#!/usr/bin/env bash
# shim_exports.sh - the shim exports every function it means to interpose, and
# nothing else. The list is plugin/libtunetrail.map (the version script the
# library is linked with); an adapter's line, opened by /* <name> */, counts
# only when this build has that adapter (TT_ADAPTERS). Checked three ways:
#   - every listed function is in the built library's dynamic symbol table
#     (clang -O2 once dropped vprintf and putchar: glibc defines them extern
#     inline, and the visibility attribute after that definition was ignored,
#     so printed metrics written through them were never seen);
#   - the library exports nothing the map does not list, and no function of
#     a skipped adapter (its calls must pass straight through);
#   - every global function the hook objects define is listed (a hook written
#     but not listed would be silently local).
# Run by CI for the gcc and the clang build.
source "$(dirname "$0")/lib/common.sh"

MAP=$TT_SRC/plugin/libtunetrail.map
SHIM=${TT_SHIM:-$TT_BUILD/lib/libtunetrail.so}
need_exe nm readelf
[ -f "$SHIM" ] || fail "no shim at $SHIM (build first)"
[ -n "${TT_HOOK_OBJECTS:-}" ] || fail "TT_HOOK_OBJECTS not set (run through ctest)"
cc=$(readelf -p .comment "$SHIM" 2>/dev/null | grep -oE '(clang|GCC)[^]]*' | sort -u | paste -sd ';')
echo "[$TT_NAME] shim: $SHIM (built by: ${cc:-unknown})"

# map_symbols [all|built|skipped]: the map's global symbols, one per line.
map_symbols() {
    awk -v want="$1" -v built=",${TT_ADAPTERS-libsvm,liblinear,fann,darknet}," '
        /global:/ { g = 1; next }
        /local:/ { g = 0 }
        !g { next }
        {
            tag = ""
            if (match($0, /^[ \t]*\/\* *[a-z0-9_]+ *\*\//)) {
                tag = substr($0, RSTART, RLENGTH); gsub(/[\/* \t]/, "", tag)
            }
            line = $0; gsub(/\/\*[^*]*\*\//, "", line)
            if (line ~ /\/\*/ || line ~ /^[ \t]*\*/) next   # a comment spanning lines
            skipped = tag != "" && index(built, "," tag ",") == 0
            if (want == "built" && skipped) next
            if (want == "skipped" && !skipped) next
            n = split(line, f, /[; \t]+/)
            for (i = 1; i <= n; i++) if (f[i] != "") print f[i]
        }' "$MAP" | sort -u
}
map_symbols all >"$T/all"
map_symbols built >"$T/want"
map_symbols skipped >"$T/skipped"
nm -D --defined-only "$SHIM" | awk '{print $NF}' | sort -u >"$T/exported"
tr ':' '\n' <<<"$TT_HOOK_OBJECTS" | xargs nm -g --defined-only | awk 'NF == 3 {print $3}' | sort -u >"$T/hooks"
[ -s "$T/want" ] || fail "no symbols read from $MAP"

say "every function the map lists (for this build's adapters) is exported: $(grep -c . "$T/want")"
missing=$(comm -23 "$T/want" "$T/exported" | paste -sd ' ')
[ -z "$missing" ] || fail "listed in $MAP but not exported by $SHIM: $missing"

say "nothing exported beyond the map, and no skipped adapter's function"
extra=$(comm -13 "$T/all" "$T/exported" | paste -sd ' ')
[ -z "$extra" ] || fail "$SHIM exports symbols $MAP does not list: $extra"
leaked=$(comm -12 "$T/skipped" "$T/exported" | paste -sd ' ')
[ -z "$leaked" ] || fail "exported although their adapter is not built: $leaked"

say "every global function of the hook objects is listed in the map"
unlisted=$(comm -23 "$T/hooks" "$T/all" | paste -sd ' ')
[ -z "$unlisted" ] || fail "defined by a hook_*.c file but not listed in $MAP (so not exported): $unlisted"
expect_eq "$(comm -12 "$T/hooks" "$T/exported" | grep -c .)" "$(grep -c . "$T/want")" "hooks defined and exported"
echo "[$TT_NAME] PASS"
