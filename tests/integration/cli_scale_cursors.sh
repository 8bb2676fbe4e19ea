# Durable cursors shared by many processes: two ddbmig run processes on one
# migration and checkpoint table share the segments without ever working
# on the same one; a killed one's segments are taken over after its lease;
# --segments runs part of a migration; --time-limit stops cleanly with the
# cursors saved. A counter-increment script with --marker shows every item
# done exactly once.
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/scale_lib.sh"
T=scale_cur_$$
C=scale_ckpt_$$
cd "$TMP"
counter_table "$T" 3000
INC='item.n = item.n + 1; return item'

# --- two processes, one migration: disjoint segments, each item once ---------
run_one() {
  "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _m1 --migration-id m1 \
    --checkpoint-table "$C" --total-segments 16 --max-write-units 400 --yes --output json "$@"
}
run_one >"$TMP/a.json" 2>"$TMP/a.err" &
A=$!
sleep 0.5
run_one >"$TMP/b.json" 2>"$TMP/b.err" || fail "second process: $(tail -3 "$TMP/b.err")"
wait $A || fail "first process: $(tail -3 "$TMP/a.err")"
segments_shared "$TMP/a.json" "$TMP/b.json" 16 "two processes"
counts_are "$T" 3000 1 "two processes"
grep -q 'created the checkpoint table' "$TMP/a.err" "$TMP/b.err" || fail "no process said it created the table"

# The same migration with another script or option is refused.
expect_exit 2 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e 'item.n = item.n + 2; return item' \
  --marker _m1 --migration-id m1 --checkpoint-table "$C" --yes
contains "$TMP/err" "the script changed"
expect_exit 2 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _other --migration-id m1 \
  --checkpoint-table "$C" --yes
contains "$TMP/err" "--marker was '_m1', now '_other'"
# Done is done: a third process finds nothing left.
expect_exit 0 run_one
counts_are "$T" 3000 1 "a process after the end"

# --- a killed process: its segments are taken over after its lease ----------
run_two() {
  "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _m2 --migration-id m2 \
    --checkpoint-table "$C" --total-segments 8 --lease-seconds 5 --yes --output json "$@"
}
# exec: $! must be ddbmig itself, not a subshell around it.
(exec "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _m2 --migration-id m2 \
  --checkpoint-table "$C" --total-segments 8 --lease-seconds 5 --yes --output json --max-write-units 60 \
  >"$TMP/k.json" 2>"$TMP/k.err") &
K=$!
sleep 3
kill -9 $K
{ wait $K; } 2>/dev/null
expect_exit 0 run_two
grep -q "whose lease expired" "$TMP/err" || fail "no takeover: $(grep -v "^ " "$TMP/k.err" | tail -4) // $(grep -v "^ " "$TMP/err" | tail -4)"
counts_are "$T" 3000 2 "a takeover"

# --- --segments: part of a migration ------------------------------------------
expect_exit 0 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _m3 --migration-id m3 \
  --total-segments 8 --segments 0-2,5 --checkpoint "$TMP/part.json" --yes --output json
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert sorted(s["segment"] for s in d["per_segment"]) == [0, 1, 2, 5], d["per_segment"]
assert d["done"] and all(s["done"] for s in d["per_segment"])
assert 0 < d["scanned"] < 3000, d["scanned"]' "$TMP/out" || fail "--segments ran other segments: $(head -c 400 "$TMP/out")"
expect_exit 2 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --total-segments 8 --segments 3-9 --yes
contains "$TMP/err" "segment 9 is past the last one (7)"
expect_exit 2 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --total-segments 8 --segments 3,x --yes
contains "$TMP/err" "a segment number is expected"
expect_exit 0 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _m3 --migration-id m3 \
  --total-segments 8 --segments 3-4,6-7 --checkpoint "$TMP/part.json" --resume --yes
counts_are "$T" 3000 3 "two parts"

# --- --time-limit: a clean stop, the cursors saved, then the rest -----------
expect_exit 3 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _m4 --migration-id m4 \
  --checkpoint-table "$C" --total-segments 4 --max-write-units 300 --time-limit 4 --yes --output json
contains "$TMP/err" "stopped before the deadline"
python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert d["status"] == "stopped" and not d["done"] and 0 < d["changed"] < 3000, (d["status"], d["done"], d["changed"])' \
  "$TMP/out" || fail "the deadline run: $(head -c 300 "$TMP/out")"
expect_exit 0 "$DDBMIG" run --endpoint-url "$EP" --table-name "$T" -e "$INC" --marker _m4 --migration-id m4 \
  --checkpoint-table "$C" --total-segments 4 --yes
counts_are "$T" 3000 4 "a deadline and the rest"

# --- answers lost after the write applied (a retry then fails its own
# condition): not mistaken for another process; nothing left undone while
# the run says complete ---------------------------------------------------
python3 "$DDBMIG_TESTS_DIR/fakes/fault_proxy.py" "$EP" --drop-after 0.2 --seed 3 >"$TMP/fp.port" 2>"$TMP/fp.err" &
FP=$!
for _ in $(seq 1 100); do [ -s "$TMP/fp.port" ] && break; sleep 0.1; done
FPURL="http://127.0.0.1:$(head -1 "$TMP/fp.port")"
for attempt in 1 2 3 4; do
  "$DDBMIG" run --endpoint-url "$FPURL" --table-name "$T" -e "$INC" --marker _m5 --migration-id m5 \
    --checkpoint-table "$C" --total-segments 4 --page-size 50 --max-write-units 300 --lease-seconds 5 --yes \
    --output json >"$TMP/fp.json" 2>"$TMP/fp.run.err"
  rc=$?
  python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
rc = int(sys.argv[2])
assert rc != 0 or d["done"], "exit 0 while segments are not done"
assert rc in (0, 3, 4), rc' "$TMP/fp.json" "$rc" || fail "attempt $attempt: exit $rc: $(tail -2 "$TMP/fp.run.err")"
  [ "$rc" -eq 0 ] && break
  sleep 5   # leases of the earlier attempt
done
[ "$rc" -eq 0 ] || fail "the run never finished through lost answers: $(tail -3 "$TMP/fp.run.err")"
grep -q 'taken over by another process' "$TMP/fp.run.err" && fail "a lost answer was taken for another process"
kill $FP
counts_are "$T" 3000 5 "lost answers"

ddb_api DeleteTable '{"TableName":"'$T'"}' >/dev/null
ddb_api DeleteTable '{"TableName":"'$C'"}' >/dev/null
finish
