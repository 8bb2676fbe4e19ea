# The Lambda runtime's capacity events (the stack's steps around the Map)
# against the capacity fake: prewarm raises a provisioned table and keeps
# the original settings in the checkpoint table; a second prewarm keeps
# them; restore puts them back; ddbmig capacity restore reads the same
# record from the table.
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/capacity_lib.sh"
T=lcap_$$
C=lcap_ckpt_$$
start_fake FAKE
cd "$TMP"
fk CreateTable '{"TableName":"'$T'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PROVISIONED","ProvisionedThroughput":{"ReadCapacityUnits":5,"WriteCapacityUnits":5}}'
ok "create $T"
settle "$T"

python3 "$TESTS/fakes/lambda_runtime.py" -- "$DDBMIG" lambda --endpoint-url "$FAKE" -e 'return item' \
  --migration-id LC1 --checkpoint-table "$C" --no-pitr-check >"$TMP/rt.port" 2>"$TMP/rt.err" &
PIDS="$PIDS $!"
for _ in $(seq 1 100); do [ -s "$TMP/rt.port" ] && break; sleep 0.1; done
RTURL="http://127.0.0.1:$(head -1 "$TMP/rt.port")"
invoke() { curl -sS -m 120 -X POST "$RTURL/__invoke" -d '{"event": '"$1"', "timeout_ms": 60000}'; }

# The checkpoint table is made by the first segment run; capacity needs it too.
"$DDBMIG" run --endpoint-url "$FAKE" --table-name "$T" -e 'return item' --migration-id LC1 --checkpoint-table "$C" \
  --yes --quiet --no-pitr-check >/dev/null 2>"$TMP/err" || fail "making the checkpoint table: $(cat "$TMP/err")"

a=$(invoke '{"action": "prewarm", "tableName": "'$T'", "readUnits": 300, "writeUnits": 200}')
case "$a" in *'"status": "raised"'*|*'"status":"raised"'*) ;; *) fail "prewarm answered: $a $(tail -3 "$TMP/rt.err")" ;; esac
settle "$T"
is "raised" "(d['Table']['ProvisionedThroughput']['ReadCapacityUnits'], d['Table']['ProvisionedThroughput']['WriteCapacityUnits'])" "(300, 200)"
a=$(invoke '{"action": "prewarm", "tableName": "'$T'", "readUnits": 300, "writeUnits": 200}')
case "$a" in *'nothing to raise'*) ;; *) fail "second prewarm answered: $a" ;; esac
ddb_api GetItem '{"TableName":"'$C'","Key":{"id":{"S":"LC1#capacity"}},"ConsistentRead":true}' >"$TMP/a"
python3 -c '
import json, sys
rec = json.loads(json.load(open(sys.argv[1]))["Item"]["record"]["S"])
assert rec["status"] == "raised", rec["status"]
assert rec["original"]["resources"][0]["provisioned"] == {"read": 5, "write": 5}, rec["original"]' "$TMP/a" ||
  fail "the record in the checkpoint table: $(head -c 400 "$TMP/a")"
a=$(invoke '{"action": "restore", "tableName": "'$T'"}')
case "$a" in *restored*) ;; *) fail "restore answered: $a $(tail -3 "$TMP/rt.err")" ;; esac
settle "$T"
is "restored" "(d['Table']['ProvisionedThroughput']['ReadCapacityUnits'], d['Table']['ProvisionedThroughput']['WriteCapacityUnits'])" "(5, 5)"
# The same record from the command line: already restored, nothing to do.
expect_exit 0 "$DDBMIG" capacity restore --endpoint-url "$FAKE" --checkpoint-table "$C" --migration-id LC1
a=$(invoke '{"action": "resize", "tableName": "'$T'"}')
case "$a" in *Ddbmig.BadEvent*) ;; *) fail "an unknown action answered: $a" ;; esac
a=$(invoke '{"action": "restore", "tableName": "other_table"}')
case "$a" in *Ddbmig.ConfigError*|*Ddbmig.*) ;; *) fail "restore of another table answered: $a" ;; esac

fk DeleteTable '{"TableName":"'$T'"}'
fk DeleteTable '{"TableName":"'$C'"}'
finish
