# Helpers for the CLI tests. Sourced; expects DDBMIG (the binary) and
# DDBMIG_TEST_ENDPOINT (DynamoDB Local). Skips (exit 77) without the latter.
set -u
if [ -z "${DDBMIG_TEST_ENDPOINT:-}" ]; then
  echo "DDBMIG_TEST_ENDPOINT is not set: skipped"
  exit 77
fi
EP=$DDBMIG_TEST_ENDPOINT
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# Dummy credentials: DynamoDB Local does not check signatures.
export AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=local-secret-value
export AWS_EC2_METADATA_DISABLED=true HOME=$TMP
unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB AWS_SESSION_TOKEN

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
finish() { [ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }; }

# ddb_api OP JSON: one unsigned call to DynamoDB Local, answer on stdout.
ddb_api() {
  curl -sS -X POST "$EP" -H "X-Amz-Target: DynamoDB_20120810.$1" \
    -H 'Content-Type: application/x-amz-json-1.0' \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d "$2"
}

# expect_exit CODE CMD...: runs CMD, output in $TMP/out and $TMP/err.
expect_exit() {
  local want=$1; shift
  "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  [ "$got" -eq "$want" ] || fail "'$*' exited $got, expected $want: $(cat "$TMP/err")"
}

contains() { grep -qF -- "$2" "$1" || fail "$1 lacks '$2': $(head -c 600 "$1")"; }
lacks() { ! grep -qF -- "$2" "$1" || fail "$1 contains '$2'"; }
