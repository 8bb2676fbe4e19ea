# Helpers for the tests that use the capacity fake
# (tests/fakes/capacity_fake.py) in front of DynamoDB Local. Sourced after
# lib.sh; TESTS is the tests directory.
PIDS=""
trap 'kill $PIDS 2>/dev/null; rm -rf "$TMP"' EXIT

# start_fake NAME ARGS...: a fake in front of DynamoDB Local; its URL in $NAME.
start_fake() {
  local name=$1; shift
  python3 "$TESTS/fakes/capacity_fake.py" "$EP" "$@" >"$TMP/$name.port" 2>"$TMP/$name.err" &
  PIDS="$PIDS $!"
  for _ in $(seq 1 100); do [ -s "$TMP/$name.port" ] && break; sleep 0.1; done
  [ -s "$TMP/$name.port" ] || { echo "capacity fake did not start: $(cat "$TMP/$name.err")"; exit 1; }
  printf -v "$name" 'http://127.0.0.1:%s' "$(head -1 "$TMP/$name.port")"
}

# call URL TARGET CTYPE JSON: answer in $TMP/a, HTTP status in $code.
call() {
  code=$(curl -sS -o "$TMP/a" -w '%{http_code}' -X POST "$1" -H "X-Amz-Target: $2" -H "Content-Type: $3" \
    -H 'Authorization: AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0' \
    -d "$4")
}
fk() { call "$FAKE" "DynamoDB_20120810.$1" application/x-amz-json-1.0 "$2"; }
aas() { call "$FAKE" "AnyScaleFrontendService.$1" application/x-amz-json-1.1 "$2"; }
ctl() { curl -sS -o "$TMP/a" -X POST "$FAKE/__$1" -d "$2"; }
state() { curl -sS -o "$TMP/a" "$FAKE/__state"; }

# jv EXPR: a Python expression over the last answer, d.
jv() { python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$TMP/a" "$1"; }
# is LABEL EXPR WANT
is() {
  local got; got=$(jv "$2")
  [ "$got" = "$3" ] || fail "$1: $2 = '$got', expected '$3': $(head -c 500 "$TMP/a")"
}
ok() { [ "$code" = 200 ] || fail "$1: HTTP $code: $(head -c 500 "$TMP/a")"; }
# refused LABEL TEXT...: a 400 whose body holds each TEXT.
refused() {
  local label=$1; shift
  [ "$code" = 400 ] || { fail "$label: HTTP $code, expected 400: $(head -c 300 "$TMP/a")"; return; }
  for text in "$@"; do grep -qF -- "$text" "$TMP/a" || fail "$label: answer lacks '$text': $(head -c 500 "$TMP/a")"; done
}
desc() { fk DescribeTable '{"TableName":"'"$1"'"}'; }
# settle T: describe until ACTIVE.
settle() {
  for _ in 1 2 3 4 5 6; do
    desc "$1"
    [ "$(jv 'd["Table"]["TableStatus"]')" = ACTIVE ] && return
  done
  fail "$1 never became ACTIVE"
}
pt() { fk UpdateTable '{"TableName":"'"$1"'","ProvisionedThroughput":{"ReadCapacityUnits":'"$2"',"WriteCapacityUnits":'"$3"'}}'; }
gsi_pt() {
  fk UpdateTable '{"TableName":"'"$1"'","GlobalSecondaryIndexUpdates":[{"Update":{"IndexName":"'"$2"'","ProvisionedThroughput":{"ReadCapacityUnits":'"$3"',"WriteCapacityUnits":'"$4"'}}}]}'
}
G='d["Table"]["GlobalSecondaryIndexes"]'
gsi() { echo "[g for g in $G if g['IndexName'] == '$1'][0]"; }

