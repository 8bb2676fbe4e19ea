# The capacity fake (tests/fakes/capacity_fake.py) in front of DynamoDB
# Local: each rule it enforces, checked with plain HTTP calls, so that the
# capacity tests of ddbmig stand on a fake known to behave.
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/capacity_lib.sh"
P=capfake_prov_$$   # provisioned, GSIs gi1 and gi2
O=capfake_od_$$     # on demand, GSI byg
start_fake FAKE --log "$TMP/fake.log"
# Early in a UTC day, so that an hour's advance stays within it.
ctl clock '{"now": 1767229200}'
T0=1767229200

fk CreateTable '{"TableName":"'$P'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"a","AttributeType":"S"},{"AttributeName":"b","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":10,"WriteCapacityUnits":10},"GlobalSecondaryIndexes":[{"IndexName":"gi1","KeySchema":[{"AttributeName":"a","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"},"ProvisionedThroughput":{"ReadCapacityUnits":10,"WriteCapacityUnits":10}},{"IndexName":"gi2","KeySchema":[{"AttributeName":"b","KeyType":"HASH"}],"Projection":{"ProjectionType":"KEYS_ONLY"},"ProvisionedThroughput":{"ReadCapacityUnits":10,"WriteCapacityUnits":10}}]}'
ok "create $P"
fk CreateTable '{"TableName":"'$O'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"g","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST","GlobalSecondaryIndexes":[{"IndexName":"byg","KeySchema":[{"AttributeName":"g","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}]}'
ok "create $O"

# --- UPDATING for N describes, ResourceInUse meanwhile ---------------------
pt "$P" 20 20
ok "raise $P"
is "UpdateTable answer" 'd["TableDescription"]["TableStatus"]' UPDATING
pt "$P" 25 25
refused "update while updating" ResourceInUseException "Table is being updated: $P"
desc "$P"; is "1st describe" 'd["Table"]["TableStatus"]' UPDATING
desc "$P"; is "2nd describe" 'd["Table"]["TableStatus"]' UPDATING
desc "$P"; is "3rd describe" 'd["Table"]["TableStatus"]' ACTIVE
is "capacity raised" 'd["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"]' 20
is "LastIncreaseDateTime from the fake clock" "$T0 <= d['Table']['ProvisionedThroughput']['LastIncreaseDateTime'] < $T0 + 60" True
is "no decrease yet" '"LastDecreaseDateTime" in d["Table"]["ProvisionedThroughput"]' False
gsi_pt "$P" gi1 20 20
ok "raise gi1"
desc "$P"
is "gi1 UPDATING" "$(gsi gi1)['IndexStatus']" UPDATING
is "gi2 untouched" "$(gsi gi2)['IndexStatus']" ACTIVE
settle "$P"
is "gi1 ACTIVE again" "$(gsi gi1)['IndexStatus']" ACTIVE

# --- decreases: 4 a UTC day, then one an hour; per resource -----------------
for n in 19 18 17 16; do
  pt "$P" "$n" "$n"
  ok "decrease to $n"
  settle "$P"
done
is "4 decreases today" 'd["Table"]["ProvisionedThroughput"]["NumberOfDecreasesToday"]' 4
pt "$P" 15 15
refused "5th decrease" LimitExceededException "Number of decreases today: 4" "Next decrease can be made at"
desc "$P"
is "refused decrease not applied" 'd["Table"]["ProvisionedThroughput"]["ReadCapacityUnits"]' 16
is "not UPDATING after a refusal" 'd["Table"]["TableStatus"]' ACTIVE
pt "$P" 30 30
ok "increase after the limit"
settle "$P"
fk UpdateTable '{"TableName":"'$P'","ProvisionedThroughput":{"ReadCapacityUnits":29,"WriteCapacityUnits":29},"GlobalSecondaryIndexUpdates":[{"Update":{"IndexName":"gi1","ProvisionedThroughput":{"ReadCapacityUnits":19,"WriteCapacityUnits":19}}}]}'
refused "table+GSI decrease, table over its limit" LimitExceededException
desc "$P"
is "GSI part not applied either" "$(gsi gi1)['ProvisionedThroughput']['ReadCapacityUnits']" 20
gsi_pt "$P" gi1 19 19
ok "GSI decrease counted apart"
desc "$P"
is "gi1 decreases" "$(gsi gi1)['ProvisionedThroughput']['NumberOfDecreasesToday']" 1
is "table decreases" 'd["Table"]["ProvisionedThroughput"]["NumberOfDecreasesToday"]' 4
settle "$P"
ctl clock '{"advance": 3601}'
is "clock answer" "d['now'] >= $T0 + 3601" True
pt "$P" 29 29
ok "decrease an hour after the last"
settle "$P"
is "5 decreases today" 'd["Table"]["ProvisionedThroughput"]["NumberOfDecreasesToday"]' 5
pt "$P" 28 28
refused "another decrease within the hour" LimitExceededException "Number of decreases today: 5"

# --- switches to on-demand: 4 in 24 h ----------------------------------------
desc "$O"
is "on-demand warm default" 'd["Table"]["WarmThroughput"]' "{'ReadUnitsPerSecond': 12000, 'WriteUnitsPerSecond': 4000, 'Status': 'ACTIVE'}"
is "on-demand max default" 'd["Table"]["OnDemandThroughput"]' "{'MaxReadRequestUnits': -1, 'MaxWriteRequestUnits': -1}"
is "GSI on-demand max default" "$(gsi byg)['OnDemandThroughput']['MaxReadRequestUnits']" -1
fk UpdateTable '{"TableName":"'$O'","BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}'
refused "to provisioned without GSI capacity" ValidationException "ProvisionedThroughput must be specified for index: byg"
to_provisioned() {
  fk UpdateTable '{"TableName":"'$O'","BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5},"GlobalSecondaryIndexUpdates":[{"Update":{"IndexName":"byg","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}}]}'
}
to_on_demand() { fk UpdateTable '{"TableName":"'$O'","BillingMode":"PAY_PER_REQUEST"}'; }
for i in 1 2 3 4 5; do
  to_provisioned
  ok "to provisioned #$i"
  settle "$O"
  to_on_demand
  if [ "$i" -le 4 ]; then
    ok "to on-demand #$i"
    settle "$O"
  fi
done
refused "5th switch to on-demand" LimitExceededException "PayPerRequest" "limited to 4 times within 24 hours"
desc "$O"
is "still provisioned" 'd["Table"]["BillingModeSummary"]["BillingMode"]' PROVISIONED
is "switch time from the fake clock" "d['Table']['BillingModeSummary']['LastUpdateToPayPerRequestDateTime'] >= $T0 + 3601" True
fk UpdateTable '{"TableName":"'$O'","GlobalSecondaryIndexUpdates":[{"Update":{"IndexName":"byg","ProvisionedThroughput":{"ReadCapacityUnits":6,"WriteCapacityUnits":6}}}]}'
ok "GSI raise on the provisioned table"
settle "$O"
ctl clock '{"advance": 86401}'
to_on_demand
ok "switch to on-demand a day later"
settle "$O"
is "on-demand GSI shows 0 capacity" "$(gsi byg)['ProvisionedThroughput']['ReadCapacityUnits']" 0
pt "$O" 5 5
refused "capacity on an on-demand table" ValidationException "PAY_PER_REQUEST"
desc "$P"
is "a new UTC day" 'd["Table"]["ProvisionedThroughput"]["NumberOfDecreasesToday"]' 0

# --- warm throughput: stored, never lowered ----------------------------------
fk UpdateTable '{"TableName":"'$O'","WarmThroughput":{"ReadUnitsPerSecond":20000,"WriteUnitsPerSecond":8000}}'
ok "pre-warm (upstream would say Nothing to update)"
is "warm UPDATING" 'd["TableDescription"]["WarmThroughput"]["Status"]' UPDATING
settle "$O"
is "warm stored" 'd["Table"]["WarmThroughput"]' "{'ReadUnitsPerSecond': 20000, 'WriteUnitsPerSecond': 8000, 'Status': 'ACTIVE'}"
fk UpdateTable '{"TableName":"'$O'","WarmThroughput":{"ReadUnitsPerSecond":15000}}'
refused "lower warm" ValidationException "Warm throughput cannot be decreased"
desc "$P"
is "provisioned GSI warm = its capacity" "$(gsi gi2)['WarmThroughput']['ReadUnitsPerSecond']" 10
fk UpdateTable '{"TableName":"'$P'","GlobalSecondaryIndexUpdates":[{"Update":{"IndexName":"gi2","WarmThroughput":{"ReadUnitsPerSecond":500,"WriteUnitsPerSecond":300}}}]}'
ok "pre-warm a GSI"
settle "$P"
is "GSI warm stored" "$(gsi gi2)['WarmThroughput']['WriteUnitsPerSecond']" 300
is "GSI capacity untouched" "$(gsi gi2)['ProvisionedThroughput']['ReadCapacityUnits']" 10
fk UpdateTable '{"TableName":"'$P'","GlobalSecondaryIndexUpdates":[{"Update":{"IndexName":"gi2","WarmThroughput":{"ReadUnitsPerSecond":400}}}]}'
refused "lower GSI warm" ValidationException "Warm throughput cannot be decreased"
fk UpdateTable '{"TableName":"'$O'","OnDemandThroughput":{"MaxReadRequestUnits":100}}'
ok "max on-demand throughput"
settle "$O"
is "max on-demand stored" 'd["Table"]["OnDemandThroughput"]' "{'MaxReadRequestUnits': 100, 'MaxWriteRequestUnits': -1}"

# --- Application Auto Scaling --------------------------------------------------
RID='"ServiceNamespace":"dynamodb","ResourceId":"table/'$P'"'
WDIM='"ScalableDimension":"dynamodb:table:WriteCapacityUnits"'
aas RegisterScalableTarget "{$RID,$WDIM,\"MinCapacity\":10,\"MaxCapacity\":5}"
refused "Min > Max" ValidationException
aas PutScalingPolicy "{$RID,$WDIM,\"PolicyName\":\"w\",\"PolicyType\":\"TargetTrackingScaling\",\"TargetTrackingScalingPolicyConfiguration\":{\"TargetValue\":70,\"PredefinedMetricSpecification\":{\"PredefinedMetricType\":\"DynamoDBWriteCapacityUtilization\"}}}"
refused "policy without a target" ObjectNotFoundException
aas RegisterScalableTarget "{\"ServiceNamespace\":\"dynamodb\",\"ResourceId\":\"table/${P}_missing\",$WDIM,\"MinCapacity\":1,\"MaxCapacity\":5}"
refused "target of a missing table" ValidationException
aas RegisterScalableTarget "{$RID,$WDIM,\"MinCapacity\":35,\"MaxCapacity\":40}"
ok "register"
is "target ARN" 'd["ScalableTargetARN"].startswith("arn:aws:application-autoscaling:us-east-1:123456789012:scalable-target/")' True
desc "$P"
is "raised to Min at once" 'd["Table"]["ProvisionedThroughput"]["WriteCapacityUnits"]' 35
settle "$P"
pt "$P" 29 60
ok "manual raise above Max"
desc "$P"
is "undone at the next describe" 'd["Table"]["ProvisionedThroughput"]["WriteCapacityUnits"]' 40
settle "$P"
is "scale-in counts as a decrease" 'd["Table"]["ProvisionedThroughput"]["NumberOfDecreasesToday"]' 1
aas RegisterScalableTarget "{$RID,$WDIM,\"SuspendedState\":{\"DynamicScalingInSuspended\":true}}"
ok "suspend scale-in"
pt "$P" 29 60
ok "manual raise, scale-in suspended"
desc "$P"
is "kept while suspended" 'd["Table"]["ProvisionedThroughput"]["WriteCapacityUnits"]' 60
aas DescribeScalableTargets "{\"ServiceNamespace\":\"dynamodb\",\"ResourceIds\":[\"table/$P\"]}"
ok "describe targets"
is "one target" 'len(d["ScalableTargets"])' 1
is "Min/Max kept by a partial register" '(d["ScalableTargets"][0]["MinCapacity"], d["ScalableTargets"][0]["MaxCapacity"])' "(35, 40)"
is "suspended flags" 'd["ScalableTargets"][0]["SuspendedState"]' "{'DynamicScalingInSuspended': True, 'DynamicScalingOutSuspended': False, 'ScheduledScalingSuspended': False}"
aas PutScalingPolicy "{$RID,$WDIM,\"PolicyName\":\"w\",\"PolicyType\":\"TargetTrackingScaling\",\"TargetTrackingScalingPolicyConfiguration\":{\"TargetValue\":70,\"PredefinedMetricSpecification\":{\"PredefinedMetricType\":\"DynamoDBWriteCapacityUtilization\"}}}"
ok "put policy"
aas DescribeScalingPolicies "{\"ServiceNamespace\":\"dynamodb\",\"ResourceId\":\"table/$P\"}"
is "policy listed" '[(p["PolicyName"], p["TargetTrackingScalingPolicyConfiguration"]["TargetValue"]) for p in d["ScalingPolicies"]]' "[('w', 70)]"
aas DeregisterScalableTarget "{$RID,$WDIM}"
ok "deregister"
aas DescribeScalingPolicies "{\"ServiceNamespace\":\"dynamodb\",\"ResourceId\":\"table/$P\"}"
is "policies go with the target" 'len(d["ScalingPolicies"])' 0
aas DeregisterScalableTarget "{$RID,$WDIM}"
refused "deregister twice" ObjectNotFoundException

# --- control API -------------------------------------------------------------
state
is "calls: the refused 5th decrease" "[c['verdict'].split(':')[0] for c in d['calls'] if c['table'] == '$P' and c['request'].get('ProvisionedThroughput', {}).get('ReadCapacityUnits') == 15]" "['LimitExceededException']"
is "calls: auto scaling's own update" "any(c['source'] == 'autoscaling' and c['verdict'] == 'accepted' for c in d['calls'])" True
is "state: table decreases" "len(d['tables']['$P']['table']['decreases'])" 6
is "state: switches" "len(d['tables']['$O']['switches_to_on_demand'])" 5
grep -q '"op": "UpdateTable"' "$TMP/fake.log" || fail "--log has no UpdateTable line"

# --- --no-warm: an endpoint without warm throughput ---------------------------
MAIN=$FAKE
start_fake FAKE --no-warm
desc "$O"
ok "describe through --no-warm"
is "no WarmThroughput" '"WarmThroughput" in d["Table"]' False
fk UpdateTable '{"TableName":"'$O'","WarmThroughput":{"ReadUnitsPerSecond":30000}}'
refused "warm-only update forwarded" "Nothing to update"
FAKE=$MAIN

ctl reset '{}'
state
is "reset: no tables" 'len(d["tables"]) + len(d["calls"])' 0
is "reset: clock back to now" 'abs(d["offset"]) < 1' True

ddb_api DeleteTable '{"TableName":"'$P'"}' >/dev/null
ddb_api DeleteTable '{"TableName":"'$O'"}' >/dev/null
for pid in $PIDS; do kill "$pid" 2>/dev/null; done
PIDS=""
finish
