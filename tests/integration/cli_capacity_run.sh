# ddbmig run --prewarm and ddbmig capacity against the capacity fake
# (DynamoDB's limits enforced) in front of DynamoDB Local: a provisioned
# table with two indexes raised and restored around a run; the same under
# auto scaling, raised through its scalable targets; the rate limits
# follow the raised capacity.
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/capacity_lib.sh"
P=cap_run_prov_$$
S=cap_run_scaled_$$
start_fake FAKE
cd "$TMP"

create_prov() {
  fk CreateTable '{"TableName":"'$1'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"a","AttributeType":"S"},{"AttributeName":"b","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":6},"GlobalSecondaryIndexes":[{"IndexName":"gi1","KeySchema":[{"AttributeName":"a","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"},"ProvisionedThroughput":{"ReadCapacityUnits":3,"WriteCapacityUnits":4}},{"IndexName":"gi2","KeySchema":[{"AttributeName":"b","KeyType":"HASH"}],"Projection":{"ProjectionType":"KEYS_ONLY"},"ProvisionedThroughput":{"ReadCapacityUnits":7,"WriteCapacityUnits":2}}]}'
  ok "create $1"
  settle "$1"
  : >"$TMP/items.jsonl"
  for i in $(seq 1 40); do
    echo '{"pk":{"S":"k'$i'"},"a":{"S":"a'$((i % 3))'"},"b":{"S":"b'$i'"},"n":{"N":"'$i'"}}' >>"$TMP/items.jsonl"
  done
  "$DDBMIG" import --endpoint-url "$FAKE" --table-name "$1" --file "$TMP/items.jsonl" >/dev/null 2>"$TMP/imp.err" ||
    fail "import into $1: $(cat "$TMP/imp.err")"
}

# capacity_is T R W GI1R GI1W GI2R GI2W: the table's provisioned units now.
capacity_is() {
  desc "$1"
  local got
  got=$(jv "' '.join(str(x) for x in [d['Table']['ProvisionedThroughput']['ReadCapacityUnits'], d['Table']['ProvisionedThroughput']['WriteCapacityUnits']] + [v for g in sorted(d['Table']['GlobalSecondaryIndexes'], key=lambda g: g['IndexName']) for v in (g['ProvisionedThroughput']['ReadCapacityUnits'], g['ProvisionedThroughput']['WriteCapacityUnits'])])")
  [ "$got" = "$2" ] || fail "$3: capacity of $1 is '$got', expected '$2'"
}

# accepted OP JQ: the fake accepted a call of OP whose request satisfies
# the Python expression over r (the request).
accepted() {
  state
  local n
  n=$(jv "len([c for c in d['calls'] if c['op'] == '$1' and c['verdict'] == 'accepted' and (lambda r: $2)(c['request'])])")
  [ "$n" -ge 1 ] || fail "$3: no accepted $1 with $2: $(python3 -c 'import json,sys; print([ (c["op"], c["verdict"], c["request"]) for c in json.load(open(sys.argv[1]))["calls"]][-8:])' "$TMP/a")"
}

# --- provisioned, two indexes: raised for the run, restored after ---------
create_prov "$P"
expect_exit 0 "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$P" -e 'item.done = true; return item' \
  --prewarm --prewarm-read-units 400 --prewarm-write-units 300 --checkpoint "$TMP/p.json" --yes
contains "$TMP/err" "prewarm    provisioned, to 400 read and 300 write units per second"
contains "$TMP/err" "index gi1: provisioned 3 read, 300 write units"
contains "$TMP/err" "the run's rate limits: 320 read, 240 write units per second"
contains "$TMP/err" "capacity restored"
accepted UpdateTable "r.get('ProvisionedThroughput') == {'ReadCapacityUnits': 400, 'WriteCapacityUnits': 300}" "table raised"
accepted UpdateTable "any(u['Update']['IndexName'] == 'gi2' and u['Update']['ProvisionedThroughput']['WriteCapacityUnits'] == 300 for u in r.get('GlobalSecondaryIndexUpdates', []))" "gi2 raised"
capacity_is "$P" "5 6 3 4 7 2" "after the run"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["status"] == "restored", d["status"]' "$TMP/p.json.capacity.json" ||
  fail "the record is not marked restored"
expect_exit 0 "$DDBMIG" verify --endpoint-url "$FAKE" --table-name "$P" -e 'item.done = true; return item'

# A second run with nothing raised again: the restored record is replaced.
expect_exit 0 "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$P" -e 'item.done2 = true; return item' \
  --prewarm --prewarm-write-units 50 --prewarm-read-units 60 --checkpoint "$TMP/p2.json" --yes -q
capacity_is "$P" "5 6 3 4 7 2" "after the second run"

# --- under auto scaling: raised through the scalable targets --------------
create_prov "$S"
aas RegisterScalableTarget '{"ServiceNamespace":"dynamodb","ResourceId":"table/'$S'","ScalableDimension":"dynamodb:table:WriteCapacityUnits","MinCapacity":6,"MaxCapacity":50}'
ok "register table write target"
aas RegisterScalableTarget '{"ServiceNamespace":"dynamodb","ResourceId":"table/'$S'/index/gi1","ScalableDimension":"dynamodb:index:WriteCapacityUnits","MinCapacity":4,"MaxCapacity":40,"SuspendedState":{"DynamicScalingInSuspended":true}}'
ok "register gi1 write target"
aas PutScalingPolicy '{"PolicyName":"w","ServiceNamespace":"dynamodb","ResourceId":"table/'$S'","ScalableDimension":"dynamodb:table:WriteCapacityUnits","PolicyType":"TargetTrackingScaling","TargetTrackingScalingPolicyConfiguration":{"TargetValue":70,"PredefinedMetricSpecification":{"PredefinedMetricType":"DynamoDBWriteCapacityUtilization"}}}'
ok "put policy"
settle "$S"
expect_exit 0 "$DDBMIG" capacity show --endpoint-url "$FAKE" --table-name "$S"
contains "$TMP/out" "auto scaling write: 6..50, 1 policy"
contains "$TMP/out" "scale-in suspended"
expect_exit 0 "$DDBMIG" capacity show --endpoint-url "$FAKE" --table-name "$S" --output json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); t=d["resources"][0]["auto_scaling"]["write"]; assert (t["min"], t["max"], t["policies"]) == (6, 50, 1), t' "$TMP/out" ||
  fail "show --output json lacks the scalable target"

expect_exit 0 "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$S" -e 'item.done = true; return item' \
  --prewarm --prewarm-read-units 100 --prewarm-write-units 300 --checkpoint "$TMP/s.json" --yes
contains "$TMP/err" "auto scaling of write capacity within 300..300"
accepted RegisterScalableTarget "r['ResourceId'] == 'table/$S' and r['MinCapacity'] == 300 and r['MaxCapacity'] == 300" "table target raised"
accepted RegisterScalableTarget "r['ResourceId'] == 'table/$S/index/gi1' and r['MinCapacity'] == 300" "gi1 target raised"
# After: the targets as they were (bounds and suspended state), the capacity too.
aas DescribeScalableTargets '{"ServiceNamespace":"dynamodb","ResourceIds":["table/'$S'","table/'$S'/index/gi1"]}'
is "targets restored" "sorted((t['ResourceId'].split('/')[-1], t['MinCapacity'], t['MaxCapacity'], t['SuspendedState']['DynamicScalingInSuspended']) for t in d['ScalableTargets'])" \
  "[('$S', 6, 50, False), ('gi1', 4, 40, True)]"
capacity_is "$S" "5 6 3 4 7 2" "after the run under auto scaling"

# --- bad input: nothing changed ---------------------------------------------
expect_exit 2 "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$P" -e 'return item' --prewarm \
  --prewarm-method toggle --yes
contains "$TMP/err" "toggle is for on-demand tables"
PREWARM=maybe expect_exit 2 "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$P" -e 'return item' --yes
contains "$TMP/err" "PREWARM must be true or false"
PREWARM_WCU=lots expect_exit 2 "$DDBMIG" run --endpoint-url "$FAKE" --table-name "$P" -e 'return item' --prewarm --yes
contains "$TMP/err" "PREWARM_WCU must be a whole number"
capacity_is "$P" "5 6 3 4 7 2" "after refused runs"

fk DeleteTable '{"TableName":"'$P'"}'
fk DeleteTable '{"TableName":"'$S'"}'
finish
