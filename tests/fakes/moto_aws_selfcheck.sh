#!/usr/bin/env bash
# Self-check of tests/fakes/moto_aws.py (moto in-process, Lambda invocations
# run by the real ddbmig custom runtime): the generated stack deploys and its
# resources are visible to the Lambda and Step Functions APIs; a missing
# function is ResourceNotFoundException; function errors reach the state
# machine named by their errorType (Catch matches them); the Distributed Map
# migrates every item exactly once, twice in a row (the second StartExecution
# works and changes nothing); with short invocations and one runtime killed
# mid-invocation (Runtime.ExitError, retried) every item is still done once;
# after SIGTERM no emulator or runtime is left.
#
# usage: tests/fakes/moto_aws_selfcheck.sh
# env: DDBMIG (default build/ddbmig), DDBMIG_TEST_ENDPOINT (a running DynamoDB
# Local; default: start one with scripts/ddb-local). Exit 77: skipped.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
HARNESS=$top/tests/fakes/moto_aws.py
DDBMIG=${DDBMIG:-$top/build/ddbmig}
python3 -c 'import moto, boto3' 2>/dev/null || { echo "skip: moto or boto3 is not importable"; exit 77; }
[ -x "$DDBMIG" ] || { echo "skip: $DDBMIG is missing (build first)"; exit 77; }

TMP=$(mktemp -d /tmp/moto_aws_check.XXXXXX)
HPID=
OWN_DDB=
cleanup() {
  set +e
  if [ -n "$HPID" ]; then kill -TERM "$HPID" 2>/dev/null; wait "$HPID" 2>/dev/null; fi
  if [ -n "$OWN_DDB" ]; then "$top/scripts/ddb-local" stop "$TMP/ddb" >/dev/null 2>&1; fi
  rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
fail() { echo "FAIL: $*" >&2; [ -f "$TMP/harness.err" ] && tail -20 "$TMP/harness.err" >&2; exit 1; }
t0=$SECONDS

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1
if [ -n "${DDBMIG_TEST_ENDPOINT:-}" ]; then
  EP=$DDBMIG_TEST_ENDPOINT
else
  EP=$("$top/scripts/ddb-local" start "$TMP/ddb" 2>"$TMP/ddb.err") || {
    echo "skip: DynamoDB Local does not start: $(tail -3 "$TMP/ddb.err")"; exit 77; }
  OWN_DDB=1
fi
echo "DynamoDB Local at $EP"

# counter_table T N: a table of N items {pk, n: 0}.
counter_table() {
  python3 - "$EP" "$1" <<'PY'
import json, sys, urllib.request
ep, t = sys.argv[1], sys.argv[2]
req = urllib.request.Request(ep, json.dumps({"TableName": t, "BillingMode": "PAY_PER_REQUEST",
    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}).encode(),
    {"X-Amz-Target": "DynamoDB_20120810.CreateTable", "Content-Type": "application/x-amz-json-1.0",
     "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
urllib.request.urlopen(req).read()
PY
  python3 -c '
import json, sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(json.dumps({"pk": {"S": "k%05d" % i}, "n": {"N": "0"}}) + "\n")' "$TMP/$1.jsonl" "$2"
  "$DDBMIG" import --endpoint-url "$EP" --table-name "$1" --file "$TMP/$1.jsonl" >/dev/null 2>"$TMP/import.err" ||
    fail "import: $(cat "$TMP/import.err")"
}

# counts_are T N WANT: every one of T's N items has n = WANT.
counts_are() {
  python3 - "$EP" "$1" "$2" "$3" <<'PY' || fail "$1: items are not all at n=$3"
import json, sys, urllib.request
ep, table, total, want = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
seen, key = {}, None
while True:
    body = {"TableName": table, "ConsistentRead": True}
    if key: body["ExclusiveStartKey"] = key
    req = urllib.request.Request(ep, json.dumps(body).encode(), {"X-Amz-Target": "DynamoDB_20120810.Scan",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"})
    d = json.load(urllib.request.urlopen(req))
    for it in d["Items"]:
        seen[it["n"]["N"]] = seen.get(it["n"]["N"], 0) + 1
    key = d.get("LastEvaluatedKey")
    if not key: break
print("  %s: n counts %s" % (table, seen))
sys.exit(0 if seen == {want: total} else 1)
PY
}

# start_harness NAME [ARGS]: the harness, its port in HPORT.
start_harness() {
  local name=$1; shift
  python3 "$HARNESS" --dynamodb-endpoint "$EP" --log "$TMP/$name.log" --work-dir "$TMP/work-$name" "$@" \
    >"$TMP/harness.port" 2>"$TMP/harness.err" &
  HPID=$!
  for _ in $(seq 1 150); do [ -s "$TMP/harness.port" ] && break; sleep 0.1; done
  HPORT=$(head -1 "$TMP/harness.port")
  [ -n "$HPORT" ] || fail "the harness printed no port"
}

# stop_harness NAME: SIGTERM; nothing it started may be left.
stop_harness() {
  kill -TERM "$HPID"
  local rc=0
  wait "$HPID" || rc=$?
  HPID=
  [ "$rc" = 0 ] || fail "the harness exited with $rc after SIGTERM"
  sleep 0.5
  if pgrep -f "$TMP/work-$1" >/dev/null; then
    pgrep -af "$TMP/work-$1" >&2
    fail "processes of the $1 harness outlived it"
  fi
}

cat >"$TMP/drive.py" <<'PY'
import json, sys, time
import boto3
from botocore.config import Config

cmd, port = sys.argv[1], sys.argv[2]
kw = dict(endpoint_url="http://127.0.0.1:%s" % port, region_name="us-east-1",
          aws_access_key_id="testing", aws_secret_access_key="testing",
          config=Config(retries={"max_attempts": 1}, read_timeout=300))
s3, cfn = boto3.client("s3", **kw), boto3.client("cloudformation", **kw)
lam, sfn = boto3.client("lambda", **kw), boto3.client("stepfunctions", **kw)

def outputs(stack):
    st = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in st.get("Outputs", [])}, st["StackStatus"]

def wait(arn, limit=150):
    t0 = time.time()
    while True:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d, time.time() - t0
        assert time.time() - t0 < limit, "execution still RUNNING after %d s" % limit
        time.sleep(0.5)

if cmd == "deploy":     # deploy PORT STACK TEMPLATE ZIP TABLE SEGMENTS
    stack, template, zipf, table, segments = sys.argv[3:8]
    s3.create_bucket(Bucket="code-" + stack)
    s3.put_object(Bucket="code-" + stack, Key="code.zip", Body=open(zipf, "rb").read())
    cfn.create_stack(StackName=stack, TemplateBody=open(template).read(),
                     Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"],
                     Parameters=[{"ParameterKey": "CodeBucket", "ParameterValue": "code-" + stack},
                                 {"ParameterKey": "CodeKey", "ParameterValue": "code.zip"}])
    out, status = outputs(stack)
    assert status == "CREATE_COMPLETE", status
    assert set(out) >= {"StateMachineArn", "BucketName", "CheckpointTableName", "FunctionName"}, out
    # The stack's resources are where the APIs (and the interpreter) look.
    fn = lam.get_function(FunctionName=out["FunctionName"])["Configuration"]
    assert fn["Runtime"] == "provided.al2023" and fn["Timeout"] == 900, fn
    sm = sfn.describe_state_machine(stateMachineArn=out["StateMachineArn"])
    assert "$$.Map.Item.Value" in sm["definition"], "Fn::Sub ate the $$ of the definition"
    assert fn["FunctionArn"] in sm["definition"], "the definition's FunctionArn is not the function's"
    s3.put_object(Bucket=out["BucketName"], Key="segments/%s.json" % stack, Body=json.dumps(
        [{"segment": i, "totalSegments": int(segments), "tableName": table} for i in range(int(segments))]))
    print("  stack %s: %s" % (stack, out))

elif cmd == "errors":   # errors PORT STACK TABLE: how Lambda errors look, to clients and state machines
    stack, table = sys.argv[3:5]
    out, _ = outputs(stack)
    try:
        lam.invoke(FunctionName="no-such-function", Payload=b"{}")
        raise AssertionError("invoking a missing function succeeded")
    except lam.exceptions.ResourceNotFoundException:
        pass
    bad = {"segment": "x", "totalSegments": 16, "tableName": table}
    r = lam.invoke(FunctionName=out["FunctionName"], Payload=json.dumps(bad).encode())
    payload = json.load(r["Payload"])
    assert r.get("FunctionError") == "Unhandled" and payload["errorType"] == "Ddbmig.BadEvent", (r, payload)
    fn_arn = lam.get_function(FunctionName=out["FunctionName"])["Configuration"]["FunctionArn"]
    definition = {"StartAt": "Bad", "States": {
        "Bad": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                "Parameters": {"FunctionName": fn_arn, "Payload": bad},
                "Catch": [{"ErrorEquals": ["Ddbmig.BadEvent"], "ResultPath": "$.bad", "Next": "Missing"}],
                "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:123456789012:function:nope", "Payload": {}},
                    "Catch": [{"ErrorEquals": ["Lambda.ResourceNotFoundException"], "ResultPath": "$.missing", "Next": "Done"}],
                    "Next": "Done"},
        "Done": {"Type": "Succeed"}}}
    sm = sfn.create_state_machine(name="errors-" + stack, definition=json.dumps(definition),
                                  roleArn="arn:aws:iam::123456789012:role/errors")["stateMachineArn"]
    arn = sfn.start_execution(stateMachineArn=sm, name="errors", input="{}")["executionArn"]
    d, _ = wait(arn, 60)
    assert d["status"] == "SUCCEEDED", d
    o = json.loads(d["output"])
    assert o["bad"]["Error"] == "Ddbmig.BadEvent", o
    assert json.loads(o["bad"]["Cause"])["errorType"] == "Ddbmig.BadEvent", o
    assert o["missing"]["Error"] == "Lambda.ResourceNotFoundException", o
    print("  errors: caught %s and %s" % (o["bad"]["Error"], o["missing"]["Error"]))

elif cmd == "run":      # run PORT STACK NAME: one execution of the stack's state machine, to SUCCEEDED
    stack, name = sys.argv[3:5]
    out, _ = outputs(stack)
    arn = sfn.start_execution(stateMachineArn=out["StateMachineArn"], name=name, input=json.dumps(
        {"bucket": out["BucketName"], "segmentsKey": "segments/%s.json" % stack, "resultsPrefix": "results"}))["executionArn"]
    d, secs = wait(arn)
    assert d["status"] == "SUCCEEDED", (d.get("error"), d.get("cause"))
    o = json.loads(d["output"])
    s3.head_object(Bucket=o["map"]["ResultWriterDetails"]["Bucket"], Key=o["map"]["ResultWriterDetails"]["Key"])
    print("  %s/%s: SUCCEEDED in %.1f s" % (stack, name, secs))

elif cmd == "log":      # log PORT FILE KILLED: the harness's invocation log
    entries = [json.loads(l) for l in open(sys.argv[3])]
    killed = sys.argv[4] == "1"
    per_seg = {}
    for e in entries:
        assert set(e) >= {"function", "event", "emulator", "ms"} and ("result" in e) != ("error" in e), e
        if "segment" in e["event"]:
            per_seg[e["event"]["segment"]] = per_seg.get(e["event"]["segment"], 0) + 1
    kinds = sorted({e["error"]["errorType"] for e in entries if "error" in e})
    emulators = len({e["emulator"] for e in entries})
    print("  %d invocations, %d emulators, errors %s, most per segment %d" %
          (len(entries), emulators, kinds, max(per_seg.values())))
    assert "Sandbox.Timedout" not in kinds, kinds
    if killed:
        k = [e for e in entries if e.get("killed")]
        assert len(k) == 1 and k[0]["error"]["errorType"] == "Runtime.ExitError", k
        assert max(per_seg.values()) > 1, per_seg     # segments needed several invocations
PY
drive() { python3 "$TMP/drive.py" "$1" "$HPORT" "${@:2}" || fail "drive $*"; }

"$DDBMIG" aws package --output "$TMP/code.zip" >/dev/null 2>"$TMP/pkg.err" || fail "package: $(cat "$TMP/pkg.err")"
template() {  # template TABLE FILE
  "$DDBMIG" aws template --table-name "$1" -e 'item.n = item.n + 1; return item' --marker migrated \
    --total-segments 16 --max-concurrency 4 --max-write-units 400 --tolerated-failure-percentage 0 \
    --output "$2" 2>"$TMP/tmpl.err" || fail "template: $(cat "$TMP/tmpl.err")"
}

echo "== 1: deploy, errors, two executions (function timeout)"
counter_table mig_once 2000
template mig_once "$TMP/once.json"
start_harness once
drive deploy once "$TMP/once.json" "$TMP/code.zip" mig_once 16
drive errors once mig_once
drive run once first
counts_are mig_once 2000 1
drive run once second
counts_are mig_once 2000 1
drive log "$TMP/once.log" 0
stop_harness once

echo "== 2: 1.5 s invocations, one runtime killed mid-invocation"
counter_table mig_kill 4000
template mig_kill "$TMP/kill.json"
start_harness kill --invoke-timeout-ms 1500 --kill-one-after-ms 500 --max-runtimes 4
drive deploy kill "$TMP/kill.json" "$TMP/code.zip" mig_kill 16
drive run kill first
counts_are mig_kill 4000 1
drive log "$TMP/kill.log" 1
grep -q "killed emulator" "$TMP/harness.err" || fail "the harness did not say it killed a runtime"
stop_harness kill

echo "moto_aws self-check: OK in $((SECONDS - t0)) s"
