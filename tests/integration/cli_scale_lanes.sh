# Two processes of one worker each on one migration and checkpoint table
# of two segments: each takes one. When a worker reaches its segment's
# last page it frees that lane and looks for another segment before it
# works the page; the only one left is the other process's, whose lease
# that process renews while it does the same. Waiting there (for a
# segment held by a process that is itself waiting, holding its page)
# would never end: a worker that holds a page or an open segment must not
# wait. Both end, no segment is worked twice, every item is done exactly
# once. Three rounds, since which process takes which segment is a race.
# (LANES_TIMEOUT: seconds before a process counts as hung.)
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/scale_lib.sh"
T=scale_lanes_$$
C=scale_lanes_ckpt_$$
cd "$TMP"
counter_table "$T" 2000
INC='item.n = item.n + 1; return item'

# one ROUND NAME: a process of one worker.
one() {
  timeout -k 5 ${LANES_TIMEOUT:-120} "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker "_r$1" \
    --migration-id "r$1" --checkpoint-table "$C" --total-segments 2 --workers 1 --page-size 40 \
    --max-write-units 400 --lease-seconds 10 --yes --output json >"$TMP/$2.json" 2>"$TMP/$2.err"
}

for round in 1 2 3; do
  one "$round" a &
  A=$!
  one "$round" b &
  B=$!
  wait $A || fail "round $round: the first process: exit $? (124: it hung): $(tail -3 "$TMP/a.err")"
  wait $B || fail "round $round: the second process: exit $? (124: it hung): $(tail -3 "$TMP/b.err")"
  segments_shared "$TMP/a.json" "$TMP/b.json" 2 "round $round"
  counts_are "$T" 2000 "$round" "round $round"
done

ddb_api DeleteTable '{"TableName":"'$T'"}' >/dev/null
ddb_api DeleteTable '{"TableName":"'$C'"}' >/dev/null
finish
