# Capacity restore against the capacity fake: an on-demand table toggled
# (endpoint without warm throughput, detected) and restored; warm
# throughput raised, charged, never lowered; a run killed with kill -9
# after the raise, put back by capacity restore; a restore held back by
# the daily decrease limit, recorded as pending and finished later.
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/capacity_lib.sh"
O=cap_rs_od_$$
W=cap_rs_warm_$$
K=cap_rs_kill_$$
L=cap_rs_limit_$$
cd "$TMP"
start_fake COLD --no-warm
start_fake FAKE
# Early in a UTC day (fake clock), so that an hour's advance stays in it.
ctl clock '{"now": 1767229200}'

create_od() {
  call "$1" DynamoDB_20120810.CreateTable application/x-amz-json-1.0 '{"TableName":"'$2'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"g","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST","GlobalSecondaryIndexes":[{"IndexName":"byg","KeySchema":[{"AttributeName":"g","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}]}'
  ok "create $2"
}
items() {
  : >"$TMP/items.jsonl"
  for i in $(seq 1 "$3"); do echo '{"pk":{"S":"k'$i'"},"g":{"S":"g'$((i % 5))'"},"n":{"N":"'$i'"}}' >>"$TMP/items.jsonl"; done
  "$DDBMIG" import --endpoint-url "$1" --table-name "$2" --file "$TMP/items.jsonl" >/dev/null 2>"$TMP/imp.err" ||
    fail "import into $2: $(cat "$TMP/imp.err")"
}
record_status() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["status"])' "$1" 2>/dev/null; }

# --- an endpoint without warm throughput: detected, toggle used ------------
create_od "$COLD" "$O"
items "$COLD" "$O" 30
expect_exit 2 "$DDBMIG" run --endpoint-url "$COLD" --table-name "$O" -e 'return item' --prewarm \
  --prewarm-method warm-throughput --yes
contains "$TMP/err" "reports no warm throughput"
# Below what on-demand serves at once (12,000 / 4,000): nothing is switched.
expect_exit 0 "$DDBMIG" run --endpoint-url "$COLD" --table-name "$O" -e 'item.t = 0; return item' --prewarm \
  --prewarm-read-units 500 --prewarm-write-units 200 --checkpoint "$TMP/o0.json" --yes
contains "$TMP/err" "nothing to warm"
[ ! -e "$TMP/o0.json.capacity.json" ] || fail "a record without a raise"
expect_exit 0 "$DDBMIG" run --endpoint-url "$COLD" --table-name "$O" -e 'item.t = 1; return item' --prewarm \
  --prewarm-read-units 20000 --prewarm-write-units 6000 --checkpoint "$TMP/o.json" --yes
contains "$TMP/err" "prewarm    toggle, to 20000 read and 6000 write units per second"
contains "$TMP/err" "uses one of the 4 switches to on-demand"
FAKE=$COLD state
n=$(jv "len([c for c in d['calls'] if c['op'] == 'UpdateTable' and c['verdict'] == 'accepted' and c['request'].get('BillingMode') == 'PROVISIONED' and c['request']['ProvisionedThroughput'] == {'ReadCapacityUnits': 20000, 'WriteCapacityUnits': 6000}])")
[ "$n" = 1 ] || fail "toggle: no switch to provisioned at 20000/6000 ($n)"
n=$(jv "len([c for c in d['calls'] if c['op'] == 'UpdateTable' and c['verdict'] == 'accepted' and c['request'].get('BillingMode') == 'PAY_PER_REQUEST'])")
[ "$n" = 1 ] || fail "toggle: expected one switch back to on-demand, saw $n"
FAKE=$COLD desc "$O"
is "toggled back" "d['Table']['BillingModeSummary']['BillingMode']" PAY_PER_REQUEST
[ "$(record_status "$TMP/o.json.capacity.json")" = restored ] || fail "toggle record not restored"

# --- warm throughput: raised, charged, never lowered ------------------------
create_od "$FAKE" "$W"
expect_exit 2 "$DDBMIG" capacity prewarm --endpoint-url "$FAKE" --table-name "$W" --prewarm-read-units 20000 \
  --prewarm-write-units 9000 </dev/null
contains "$TMP/err" "CHARGED: raising warm throughput by 8000 read and 10000 write units per second"
contains "$TMP/err" "needs --yes"
desc "$W"
is "unchanged without --yes" "d['Table']['WarmThroughput']['WriteUnitsPerSecond']" 4000
expect_exit 0 "$DDBMIG" capacity prewarm --endpoint-url "$FAKE" --table-name "$W" --prewarm-read-units 20000 \
  --prewarm-write-units 9000 --warm-read-price 0.0001 --warm-write-price 0.0005 --yes
contains "$TMP/err" "costs about \$5.80, once; it can never be lowered again"
desc "$W"
is "table warm" "(d['Table']['WarmThroughput']['ReadUnitsPerSecond'], d['Table']['WarmThroughput']['WriteUnitsPerSecond'])" "(20000, 9000)"
is "index warm" "(d['Table']['GlobalSecondaryIndexes'][0]['WarmThroughput']['ReadUnitsPerSecond'], d['Table']['GlobalSecondaryIndexes'][0]['WarmThroughput']['WriteUnitsPerSecond'])" "(12000, 9000)"
expect_exit 0 "$DDBMIG" capacity restore --endpoint-url "$FAKE" --table-name "$W"
contains "$TMP/err" "DynamoDB never lowers it"
desc "$W"
is "warm kept" "d['Table']['WarmThroughput']['WriteUnitsPerSecond']" 9000
state
n=$(jv "len([c for c in d['calls'] if c['op'] == 'UpdateTable' and c['verdict'] != 'accepted'])")
[ "$n" = 0 ] || fail "a refused UpdateTable around warm throughput: $(jv "[c for c in d['calls'] if c['verdict'] != 'accepted']")"

# --- kill -9 after the raise; capacity restore puts everything back ---------
fk CreateTable '{"TableName":"'$K'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}'
ok "create $K"
settle "$K"
items "$FAKE" "$K" 300
"$DDBMIG" run --endpoint-url "$FAKE" --table-name "$K" -e 'item.t = 1; return item' --prewarm \
  --prewarm-read-units 100 --prewarm-write-units 100 --max-write-units 2 --page-size 10 --checkpoint "$TMP/k.json" \
  --yes >"$TMP/k.out" 2>"$TMP/k.err" &
RUN=$!
for _ in $(seq 1 200); do [ "$(record_status "$TMP/k.json.capacity.json")" = raised ] && break; sleep 0.1; done
[ "$(record_status "$TMP/k.json.capacity.json")" = raised ] || fail "the run never recorded a raise: $(cat "$TMP/k.err")"
sleep 0.5
kill -9 $RUN
{ wait $RUN; } 2>/dev/null
desc "$K"
is "still raised after kill -9" "d['Table']['ProvisionedThroughput']['WriteCapacityUnits']" 100
expect_exit 0 "$DDBMIG" capacity restore --endpoint-url "$FAKE" --checkpoint "$TMP/k.json"
settle "$K"
is "restored after kill -9" "(d['Table']['ProvisionedThroughput']['ReadCapacityUnits'], d['Table']['ProvisionedThroughput']['WriteCapacityUnits'])" "(5, 5)"
[ "$(record_status "$TMP/k.json.capacity.json")" = restored ] || fail "record not restored after kill -9"
expect_exit 0 "$DDBMIG" capacity restore --endpoint-url "$FAKE" --checkpoint "$TMP/k.json.capacity.json"

# Killed after the raise, then resumed: the resumed run finds nothing left
# to raise, and still restores the settings the first one recorded.
(exec "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$K" -e 'item.v = 1; return item' --prewarm \
  --prewarm-read-units 100 --prewarm-write-units 100 --max-write-units 2 --page-size 10 --checkpoint "$TMP/k3.json" \
  --yes >"$TMP/k.out" 2>"$TMP/k.err") &
RUN=$!
for _ in $(seq 1 200); do [ "$(record_status "$TMP/k3.json.capacity.json")" = raised ] && break; sleep 0.1; done
kill -9 $RUN
{ wait $RUN; } 2>/dev/null
# Another raise meanwhile would take raised values for original ones.
expect_exit 2 "$DDBMIG" capacity prewarm --endpoint-url "$FAKE" --table-name "$K" --prewarm-write-units 300 --yes
contains "$TMP/err" "is still raised by the capacity record"
expect_exit 0 "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$K" -e 'item.v = 1; return item' --prewarm \
  --prewarm-read-units 100 --prewarm-write-units 100 --checkpoint "$TMP/k3.json" --resume --yes
contains "$TMP/err" "holds settings of an earlier raise"
contains "$TMP/err" "capacity restored"
desc "$K"
is "restored after a resumed run" "d['Table']['ProvisionedThroughput']['WriteCapacityUnits']" 5

# An interrupt after the raise: the run stops and puts the capacity back.
"$DDBMIG" run --endpoint-url "$FAKE" --table-name "$K" -e 'item.u = 1; return item' --prewarm \
  --prewarm-read-units 100 --prewarm-write-units 100 --max-write-units 2 --page-size 10 --checkpoint "$TMP/k2.json" \
  --yes >"$TMP/k.out" 2>"$TMP/k.err" &
RUN=$!
for _ in $(seq 1 200); do [ "$(record_status "$TMP/k2.json.capacity.json")" = raised ] && break; sleep 0.1; done
sleep 0.5
kill -INT $RUN
wait $RUN
rc=$?
[ "$rc" = 130 ] || fail "interrupted run exited $rc: $(tail -5 "$TMP/k.err")"
grep -qF "capacity restored" "$TMP/k.err" || fail "no restore after the interrupt: $(tail -5 "$TMP/k.err")"
[ "$(record_status "$TMP/k2.json.capacity.json")" = restored ] || fail "record not restored after the interrupt"
desc "$K"
is "restored after the interrupt" "d['Table']['ProvisionedThroughput']['WriteCapacityUnits']" 5

# --- the daily decrease limit: pending, then finished later -----------------
fk CreateTable '{"TableName":"'$L'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}'
ok "create $L"
settle "$L"
for round in 1 2 3 4; do   # four decreases today already
  pt "$L" 6 6; ok "raise $round"; settle "$L"
  pt "$L" 5 5; ok "lower $round"; settle "$L"
done
expect_exit 0 "$DDBMIG" capacity prewarm --endpoint-url "$FAKE" --table-name "$L" --prewarm-read-units 50 \
  --prewarm-write-units 40 --yes
expect_exit 3 "$DDBMIG" capacity restore --endpoint-url "$FAKE" --table-name "$L"
contains "$TMP/err" "pending: table $L: provisioned 5 read, 5 write units"
contains "$TMP/err" "Finish later with: ddbmig capacity restore"
[ "$(record_status ".ddbmig/$L.capacity.json")" = pending ] || fail "record not pending"
python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["pending"]; assert len(p) == 1 and p[0]["not_before_ms"] > 0 and "LimitExceeded" in p[0]["reason"] or "decrease" in p[0]["reason"], p' \
  ".ddbmig/$L.capacity.json" || fail "pending entry malformed"
desc "$L"
is "still raised while pending" "d['Table']['ProvisionedThroughput']['WriteCapacityUnits']" 40
# A new raise keeps the original settings of the pending record.
expect_exit 0 "$DDBMIG" capacity prewarm --endpoint-url "$FAKE" --table-name "$L" --prewarm-write-units 60 \
  --prewarm-read-units 50 --yes
python3 -c 'import json,sys; o=json.load(open(sys.argv[1]))["original"]["resources"][0]["provisioned"]; assert o == {"read": 5, "write": 5}, o' \
  ".ddbmig/$L.capacity.json" || fail "the second raise replaced the original settings"
ctl clock '{"advance": 3601}'
expect_exit 0 "$DDBMIG" capacity restore --endpoint-url "$FAKE" --table-name "$L"
settle "$L"
is "restored an hour later" "(d['Table']['ProvisionedThroughput']['ReadCapacityUnits'], d['Table']['ProvisionedThroughput']['WriteCapacityUnits'])" "(5, 5)"
[ "$(record_status ".ddbmig/$L.capacity.json")" = restored ] || fail "record not restored at last"

# --- a corrupt record is refused, never overwritten --------------------------
echo '{"ddbmig_capacity_record": 1, "status": "raised"' >".ddbmig/$K.capacity.json"
expect_exit 2 "$DDBMIG" capacity prewarm --endpoint-url "$FAKE" --table-name "$K" --prewarm-write-units 60 --yes
contains "$TMP/err" "is not usable"
expect_exit 2 "$DDBMIG" capacity restore --endpoint-url "$FAKE" --table-name "$K"
grep -q '"status": "raised"$' ".ddbmig/$K.capacity.json" || fail "the corrupt record was changed"

for t in "$W" "$K" "$L"; do fk DeleteTable '{"TableName":"'$t'"}'; done
FAKE=$COLD fk DeleteTable '{"TableName":"'$O'"}'
finish
