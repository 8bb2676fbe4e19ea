# ddbmig describe, --version and help, and the errors a user meets first.
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
T=cli_describe_$$

ddb_api CreateTable '{"TableName":"'$T'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"},{"AttributeName":"sk","AttributeType":"S"},{"AttributeName":"email","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"},{"AttributeName":"sk","KeyType":"RANGE"}],"BillingMode":"PAY_PER_REQUEST","GlobalSecondaryIndexes":[{"IndexName":"byEmail","KeySchema":[{"AttributeName":"email","KeyType":"HASH"}],"Projection":{"ProjectionType":"ALL"}}]}' >/dev/null
for i in 1 2 3; do
  ddb_api PutItem '{"TableName":"'$T'","Item":{"pk":{"S":"u'$i'"},"sk":{"S":"profile"},"email":{"S":"u'$i'@example.com"}}}' >/dev/null
done

expect_exit 0 "$DDBMIG" describe --table-name "$T" --endpoint-url "$EP"
contains "$TMP/out" "Table:         $T (ACTIVE)"
contains "$TMP/out" "pk (S, partition key), sk (S, sort key)"
contains "$TMP/out" "Billing mode:  PAY_PER_REQUEST"
contains "$TMP/out" "byEmail (ACTIVE): email (S, partition key); projection ALL"

expect_exit 0 "$DDBMIG" describe --table-name "$T" --endpoint-url "$EP" --output json
python3 - "$TMP/out" "$T" <<'PY' || fail "describe --output json"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["table"] == sys.argv[2], d
assert d["partition_key"] == {"name": "pk", "type": "S"}, d
assert d["sort_key"] == {"name": "sk", "type": "S"}, d
assert d["billing_mode"] == "PAY_PER_REQUEST", d
assert d["item_count"] == 3, d
assert [g["name"] for g in d["global_secondary_indexes"]] == ["byEmail"], d
PY

# Endpoint from the environment, region from AWS_REGION.
AWS_ENDPOINT_URL_DYNAMODB=$EP AWS_REGION=eu-west-1 expect_exit 0 "$DDBMIG" describe --table-name "$T"

# A missing table: a clear message and exit 2 (nothing to do).
expect_exit 2 "$DDBMIG" describe --table-name "${T}_missing" --endpoint-url "$EP"
contains "$TMP/err" "ResourceNotFoundException"
contains "$TMP/err" "(table '${T}_missing', us-east-1)"

# An endpoint where nothing listens: exit 4 after the retries.
expect_exit 4 "$DDBMIG" describe --table-name "$T" --endpoint-url http://127.0.0.1:1 --max-attempts 2
contains "$TMP/err" "cannot reach http://127.0.0.1:1"
contains "$TMP/err" "after 2 attempts"
expect_exit 2 "$DDBMIG" describe --table-name "$T" --endpoint-url localhost:8000
contains "$TMP/err" "--endpoint-url: 'localhost:8000' is not a valid URL"

# No credentials anywhere.
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY "$DDBMIG" describe --table-name "$T" --endpoint-url "$EP" \
  >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] || fail "missing credentials should exit 2"
contains "$TMP/err" "unable to locate credentials"
expect_exit 2 "$DDBMIG" describe --table-name "$T" --endpoint-url "$EP" --profile nosuch
contains "$TMP/err" "profile (nosuch) could not be found"

# No region and no endpoint.
expect_exit 2 "$DDBMIG" describe --table-name "$T"
contains "$TMP/err" "no region"

# --debug shows the requests but never a secret, token or signature.
AWS_SESSION_TOKEN=session-token-value-123 expect_exit 0 "$DDBMIG" describe --table-name "$T" --endpoint-url "$EP" --debug
contains "$TMP/err" "X-Amz-Target: DynamoDB_20120810.DescribeTable"
contains "$TMP/err" "Authorization: [redacted]"
contains "$TMP/err" "X-Amz-Security-Token: [redacted]"
contains "$TMP/err" "credentials from environment"
lacks "$TMP/err" "local-secret-value"
lacks "$TMP/err" "session-token-value-123"
lacks "$TMP/err" "Signature="
lacks "$TMP/err" "AKIDLOCALTEST"

# Version, help, and usage errors.
expect_exit 0 "$DDBMIG" --version
grep -Eq '^ddbmig [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/out" || fail "--version: $(cat "$TMP/out")"
expect_exit 0 "$DDBMIG" --help
contains "$TMP/out" "describe"
expect_exit 0 "$DDBMIG" help describe
contains "$TMP/out" "--table-name NAME"
contains "$TMP/out" "--endpoint-url URL"
expect_exit 2 "$DDBMIG" help nosuch
expect_exit 2 "$DDBMIG" nosuch
expect_exit 2 "$DDBMIG" describe --endpoint-url "$EP"
contains "$TMP/err" "--table-name is required"
expect_exit 2 "$DDBMIG" describe --table-name "$T" --bogus
contains "$TMP/err" "unknown option '--bogus'"
expect_exit 2 "$DDBMIG" describe --table-name "$T" --output yaml
expect_exit 2 "$DDBMIG" describe --table-name "$T" --max-attempts lots

ddb_api DeleteTable '{"TableName":"'$T'"}' >/dev/null
finish
