#!/usr/bin/env bash
# layers.sh - the collector's roles call only downward. Each role folder
# under collector/ is one static library (CMakeLists.txt, tt_role); the
# headers a role may include already stop most upward calls at compile time,
# and this test checks the built code itself: every symbol a role's objects
# use that another role defines must come from a role below it:
#   common <- store <- agent, daemon, record <- report <- cli
# (agent, daemon and record are siblings: none may call another). A cycle
# would need an upward edge, so none can exist either.
source "$(dirname "$0")/lib/common.sh"

need_exe nm
AR=$TT_BUILD/archive
# role: the roles it may call (its own calls are always allowed)
declare -A below=(
    [common]=""
    [store]="common"
    [agent]="store common"
    [daemon]="store common"
    [record]="store common"
    [report]="record store common"
    [cli]="agent report record store common"
)
defs=$T/defs
: >"$defs"
for role in "${!below[@]}"; do
    [ -f "$AR/libtt_$role.a" ] || fail "no $AR/libtt_$role.a (build first)"
    nm -g --defined-only "$AR/libtt_$role.a" 2>/dev/null | awk -v r="$role" 'NF == 3 {print $3, r}' >>"$defs"
done
sort -u -o "$defs" "$defs"
dups=$(awk '{print $1}' "$defs" | uniq -d | paste -sd ' ')
[ -z "$dups" ] || fail "symbols defined by more than one role: $dups"

say "every call from one role into another goes downward"
bad=""
for role in "${!below[@]}"; do
    allowed=" $role ${below[$role]} "
    while read -r sym owner; do
        case "$allowed" in
        *" $owner "*) ;;
        *) bad+="  $role -> $owner ($sym)"$'\n' ;;
        esac
    done < <(nm -u "$AR/libtt_$role.a" 2>/dev/null | awk '{print $NF}' | sort -u | join - "$defs")
done
[ -z "$bad" ] || fail "upward or sideways calls between roles:"$'\n'"$bad"
echo "[$TT_NAME]   ok: ${#below[@]} roles, no upward or sideways edge"
echo "[$TT_NAME] PASS"
