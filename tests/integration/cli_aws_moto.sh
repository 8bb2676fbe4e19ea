# The stack end to end on one machine: `ddbmig aws deploy` puts the
# generated template and the function's zip into moto's S3 and
# CloudFormation; `ddbmig aws start` runs the real state machine in moto's
# Step Functions interpreter, whose Lambda invocations reach the real
# bootstrap of the deployed zip through tests/fakes/moto_aws.py (one
# Runtime API emulator per concurrent invocation). The data and the
# checkpoint table live in DynamoDB Local. 20,000 items over 64 segments,
# an invocation deadline short enough that segments need several
# invocations, one runtime killed mid-invocation: with --marker and a
# counter-increment script every item is incremented exactly once, and a
# second execution changes nothing. moto never fails a Map whose children
# fail, so the tables are checked, not the Map's status.
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/scale_lib.sh"
if ! python3 -c 'import moto, boto3' 2>/dev/null; then
  echo "moto (pip) is not installed: skipped"
  exit 77
fi
T=aws_moto_$$
N=20000
cd "$TMP"
counter_table "$T" "$N"

python3 "$TESTS/fakes/moto_aws.py" --dynamodb-endpoint "$EP" --invoke-timeout-ms 4000 --kill-one-after-ms 1000 \
  --max-runtimes 8 --log "$TMP/invocations.jsonl" --work-dir "$TMP/work" >"$TMP/moto.port" 2>"$TMP/moto.err" &
MOTO=$!
trap 'kill $MOTO 2>/dev/null; wait $MOTO 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 300); do
  [ -s "$TMP/moto.port" ] && break
  sleep 0.2
done
PORT=$(head -1 "$TMP/moto.port")
[ -n "$PORT" ] || { echo "the moto harness did not start: $(tail -5 "$TMP/moto.err")"; exit 1; }
export AWS_ENDPOINT_URL=http://127.0.0.1:$PORT AWS_ENDPOINT_URL_DYNAMODB=$EP AWS_REGION=us-east-1
INC='item.n = item.n + 1; return item'
deploy() {
  "$DDBMIG" aws deploy --stack-name mig --table-name "$T" -e "$INC" --marker _mig --total-segments 64 \
    --max-concurrency 8 --max-write-units 800 --lease-seconds 10 "$@"
}

# --- deploy: the stack, its outputs; again: an update in place --------------------
expect_exit 0 deploy --output json
python3 - "$TMP/out" "$T" <<'PY' || fail "deploy's outputs: $(cat "$TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
o = d["outputs"]
assert d["status"] == "CREATE_COMPLETE", d["status"]
assert o["TableName"] == sys.argv[2] and o["TotalSegments"] == "64", o
assert o["StateMachineArn"].startswith("arn:aws:states:") and o["MigrationId"] and o["CheckpointTableName"], o
PY
contains "$TMP/err" "uploading the function"
expect_exit 0 deploy
contains "$TMP/out" "stack mig: UPDATE_COMPLETE"
contains "$TMP/out" "next: ddbmig aws start --stack-name mig"

# --- refused before anything starts ----------------------------------------------
expect_exit 2 "$DDBMIG" aws status --stack-name nosuchstack
contains "$TMP/err" "there is no stack nosuchstack"
expect_exit 2 "$DDBMIG" aws start --stack-name mig --name 'bad name!'
expect_exit 2 "$DDBMIG" aws status --stack-name mig
contains "$TMP/err" "has no execution yet"
other=arm64
[ "$(uname -m)" = x86_64 ] || other=x86_64
expect_exit 2 deploy --architecture "$other"
contains "$TMP/err" "a function for $other needs a ddbmig built for it"
expect_exit 2 "$DDBMIG" aws start
contains "$TMP/err" "--stack-name is required"

# --- the first execution: every item once, over several invocations -----------------
expect_exit 0 "$DDBMIG" aws start --stack-name mig --name first --output json
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["name"]=="first" and d["segments"]==64 and d["executionArn"].endswith(":first")' "$TMP/out" ||
  fail "start's answer: $(cat "$TMP/out")"
timeout 600 "$DDBMIG" aws status --stack-name mig --name first --watch --interval 2 >"$TMP/watch" 2>"$TMP/watch.err"
rc=$?
[ "$rc" -eq 0 ] || fail "status --watch exited $rc: $(tail -5 "$TMP/watch") $(tail -3 "$TMP/watch.err")"
contains "$TMP/watch" "execution  first  SUCCEEDED"
contains "$TMP/watch" "segments done 64/64"
counts_are "$T" "$N" 1 "the first execution"
expect_exit 0 "$DDBMIG" aws status --stack-name mig --output json
python3 - "$TMP/out" "$N" <<'PY' || fail "status JSON: $(cat "$TMP/out")"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["progress"]
assert d["name"] == "first" and d["status"] == "SUCCEEDED", d
assert p["segments"] == 64 and p["segmentsDone"] == 64 and p["failed"] == 0, p
# Writes of the killed invocation after its last save are found marked on
# resume: counted as scanned, not as changed (the table shows each once).
assert p["scanned"] >= int(sys.argv[2]) and 0 < p["changed"] <= int(sys.argv[2]), p
assert p["etaSeconds"] == 0, p
PY
python3 - "$TMP/invocations.jsonl" <<'PY' || fail "the invocations do not show resumed segments"
import json, sys, collections
inv = [json.loads(l) for l in open(sys.argv[1])]
seg = [i for i in inv if isinstance(i.get("event"), dict) and "segment" in i["event"]]
per = collections.Counter(i["event"]["segment"] for i in seg)
killed = [i for i in seg if (i.get("error") or {}).get("errorType") == "Runtime.ExitError"]
assert len(per) == 64, "segments invoked: %d" % len(per)
assert sum(1 for n in per.values() if n >= 2) >= 32, "segments with several invocations: %s" % per
assert len(killed) == 1, "killed invocations: %d" % len(killed)
k = killed[0]["event"]["segment"]
after = [i for i in seg if i["event"]["segment"] == k and i.get("result")]
assert after and after[-1]["result"]["done"] is True, "the killed segment was not resumed to its end"
print("invocations", len(seg), "max per segment", max(per.values()))
PY

# --- a second execution: every segment is done, nothing is written again -------------
expect_exit 0 "$DDBMIG" aws start --stack-name mig --name second
timeout 300 "$DDBMIG" aws status --stack-name mig --name second --watch --interval 2 >"$TMP/watch2" 2>&1 ||
  fail "second execution: $(tail -5 "$TMP/watch2")"
contains "$TMP/watch2" "execution  second  SUCCEEDED"
counts_are "$T" "$N" 1 "the second execution"

# --- redrive: moto has no RedriveExecution; the message says what to do instead ------
expect_exit 4 "$DDBMIG" aws redrive --stack-name mig --name first
contains "$TMP/err" "starts a new one, which also resumes every segment from its cursor"
finish
