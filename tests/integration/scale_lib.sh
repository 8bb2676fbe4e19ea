# Helpers for the scale-out tests (sourced after lib.sh): a table of items
# {pk, n: 0}, and the check that every item's n is one value, which with a
# counter-increment script and --marker shows each item done exactly once.

# counter_table T N: creates T (on-demand) with N items whose n is 0.
counter_table() {
  ddb_api CreateTable '{"TableName":"'$1'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}' >/dev/null
  python3 -c '
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"pk": {"S": "k%05d" % i}, "n": {"N": "0"}}) + "\n")' "$TMP/items.jsonl" "$2"
  "$DDBMIG" import --endpoint-url "$EP" --table-name "$1" --file "$TMP/items.jsonl" >/dev/null 2>"$TMP/err" ||
    fail "import: $(cat "$TMP/err")"
}

# counts_are T N WANT LABEL: every one of T's N items has n = WANT.
counts_are() {
  python3 - "$EP" "$1" "$2" "$3" <<'PY' || fail "after $4: items are not all at n=$3"
import json, sys, urllib.request
ep, table, total, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
seen, key = {}, None
while True:
    body = {"TableName": table, "ConsistentRead": True}
    if key: body["ExclusiveStartKey"] = key
    req = urllib.request.Request(ep, json.dumps(body).encode(), {"X-Amz-Target": "DynamoDB_20120810.Scan",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDLOCALTEST/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
    d = json.load(urllib.request.urlopen(req))
    for it in d["Items"]:
        seen[it["n"]["N"]] = seen.get(it["n"]["N"], 0) + 1
    key = d.get("LastEvaluatedKey")
    if not key: break
print(seen)
sys.exit(0 if seen == {want: total} else 1)
PY
}

# segments_shared A.json B.json N LABEL: the two processes' summaries show
# the N segments worked, none by both, and both runs done.
segments_shared() {
  python3 - "$1" "$2" "$3" <<'PY' || fail "$4: the two processes overlapped or missed segments"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
wa = {s["segment"] for s in a["per_segment"] if s["worked"]}
wb = {s["segment"] for s in b["per_segment"] if s["worked"]}
print(sorted(wa), sorted(wb))
assert not (wa & wb), wa & wb
assert wa | wb == set(range(int(sys.argv[3]))), wa | wb
assert a["done"] and b["done"]
PY
}
