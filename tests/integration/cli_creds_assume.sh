# Assume-role profiles through moto's STS with signature checking on
# (moto's IAM authentication: an AssumeRole whose SigV4 signature or key is
# wrong, or whose caller may not assume the role, is refused):
#   - a chain of two roles (a via source_profile b, itself a role via the
#     static keys of c): DescribeTable at moto's DynamoDB, which checks the
#     signature made with a's credentials, and at DynamoDB Local through a
#     proxy that records which access key reached it;
#   - credential_source = Environment; external_id (the role's trust policy
#     requires it); a source_profile loop (exit 2, the loop named);
#   - mfa_serial: the code asked on the terminal (a pty), without echo, and
#     a clear error without a terminal;
#   - 20-second role credentials (moto takes any DurationSeconds) refreshed
#     during a `ddbmig run` of many seconds: several role keys reach
#     DynamoDB Local, each one STS issued;
#   - no secret, session token or signature in any --debug output.
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
python3 -c 'import moto, boto3' 2>/dev/null || { echo "moto or boto3 is not importable: skipped"; exit 77; }
FAKES=$DDBMIG_TESTS_DIR/fakes
MPID= PPID_=
cleanup() {
  [ -n "$MPID" ] && kill "$MPID" 2>/dev/null && wait "$MPID" 2>/dev/null
  [ -n "$PPID_" ] && kill "$PPID_" 2>/dev/null && wait "$PPID_" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
python3 -m moto.server -p "$port" >"$TMP/moto.log" 2>&1 &
MPID=$!
MOTO=http://127.0.0.1:$port
for _ in $(seq 1 100); do curl -s -o /dev/null "$MOTO/moto-api/" && break; sleep 0.1; done
curl -s -o /dev/null "$MOTO/moto-api/" || { echo "moto did not start: $(tail -5 "$TMP/moto.log")"; exit 1; }

# With authentication still off: user c and its key, the roles, a table.
python3 - "$MOTO" >"$TMP/keys" <<'PY' || { echo "moto setup failed"; exit 1; }
import boto3, json, sys
kw = dict(endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id="setup", aws_secret_access_key="setup")
iam = boto3.client("iam", **kw)
iam.create_user(UserName="c")
key = iam.create_access_key(UserName="c")["AccessKey"]
allow = lambda actions: json.dumps({"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": actions, "Resource": "*"}]})
iam.put_user_policy(UserName="c", PolicyName="assume", PolicyDocument=allow("sts:AssumeRole"))
def trust(principal, condition=None):
    st = {"Effect": "Allow", "Principal": {"AWS": principal}, "Action": "sts:AssumeRole"}
    if condition:
        st["Condition"] = condition
    return json.dumps({"Version": "2012-10-17", "Statement": [st]})
user = "arn:aws:iam::123456789012:user/c"
roles = {
    "b": trust(user),
    "a": trust("*"),  # assumed by b's session: moto matches no role ARN to it
    "e": trust(user),
    "x": trust(user, {"StringEquals": {"sts:ExternalId": "ext-42"}}),
    "m": trust(user),
    "short": trust(user),
}
for name, doc in roles.items():
    iam.create_role(RoleName=name, AssumeRolePolicyDocument=doc)
    iam.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=allow(["sts:AssumeRole", "dynamodb:*"]))
boto3.client("dynamodb", **kw).create_table(
    TableName="creds_t", BillingMode="PAY_PER_REQUEST",
    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
print(key["AccessKeyId"], key["SecretAccessKey"])
PY
read -r CKEY CSECRET <"$TMP/keys"
curl -s -o /dev/null -X POST "$MOTO/moto-api/reset-auth" -H 'Content-Type: text/plain' --data-binary 0

cat >"$TMP/config" <<EOF
[profile a]
role_arn = arn:aws:iam::123456789012:role/a
source_profile = b
[profile b]
role_arn = arn:aws:iam::123456789012:role/b
source_profile = c
[profile env]
role_arn = arn:aws:iam::123456789012:role/e
credential_source = Environment
[profile ext]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = c
external_id = ext-42
role_session_name = ext-session
[profile ext_wrong]
role_arn = arn:aws:iam::123456789012:role/x
source_profile = c
external_id = not-the-one
[profile loop1]
role_arn = arn:aws:iam::123456789012:role/a
source_profile = loop2
[profile loop2]
role_arn = arn:aws:iam::123456789012:role/b
source_profile = loop1
[profile mfa]
role_arn = arn:aws:iam::123456789012:role/m
source_profile = c
mfa_serial = arn:aws:iam::123456789012:mfa/c
[profile short]
role_arn = arn:aws:iam::123456789012:role/short
source_profile = c
duration_seconds = 20
EOF
printf '[c]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$CKEY" "$CSECRET" >"$TMP/credentials"
export AWS_CONFIG_FILE=$TMP/config AWS_SHARED_CREDENTIALS_FILE=$TMP/credentials AWS_REGION=us-east-1
export AWS_ENDPOINT_URL_STS=$MOTO

# assumed FIELD ROLE: FIELD of each session moto issued for ROLE, one a line.
assumed() {
  curl -s "$MOTO/moto-api/data.json" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["sts"].get("AssumedRole", []):
    if r["role_arn"].endswith(":role/" + sys.argv[2]):
        print(r[sys.argv[1]])' "$1" "$2"
}
# no_secrets FILE: none of c's secret and of the roles' secrets and tokens.
no_secrets() {
  lacks "$1" "$CSECRET"
  curl -s "$MOTO/moto-api/data.json" | python3 -c '
import json, sys
for r in json.load(sys.stdin)["sts"].get("AssumedRole", []):
    print(r["secret_access_key"]); print(r["session_token"])' >"$TMP/secrets"
  while read -r s; do lacks "$1" "$s"; done <"$TMP/secrets"
  grep -qiE 'Signature=[0-9a-f]{16}' "$1" && fail "$1 shows a signature"
}

# 1. a -> b -> c, DescribeTable at moto's DynamoDB (signature checked).
AWS_ENDPOINT_URL_DYNAMODB=$MOTO expect_exit 0 "$DDBMIG" describe --table-name creds_t --profile a --debug
contains "$TMP/out" "creds_t"
contains "$TMP/err" "credentials from profile a: role arn:aws:iam::123456789012:role/a via profile b"
contains "$TMP/err" "profile b: assumed arn:aws:iam::123456789012:role/b as arn:aws:sts::123456789012:assumed-role/b/botocore-session-"
contains "$TMP/err" "Authorization: [redacted]"
contains "$TMP/err" "X-Amz-Security-Token: [redacted]"
no_secrets "$TMP/err"
[ "$(assumed role_arn b | wc -l)" -eq 1 ] || fail "role b was not assumed once"
[ "$(assumed role_arn a | wc -l)" -eq 1 ] || fail "role a was not assumed once"
assumed session_name b | grep -qE '^botocore-session-[0-9]+$' || fail "default session name: $(assumed session_name b)"

# 2. The same chain at DynamoDB Local, behind a proxy that notes the key.
start_proxy() {
  : >"$TMP/keys.log"
  python3 "$FAKES/sso_fake.py" proxy "$EP" "$TMP/keys.log" >"$TMP/proxy.port" &
  PPID_=$!
  for _ in $(seq 1 50); do [ -s "$TMP/proxy.port" ] && break; sleep 0.1; done
  PROXY=http://127.0.0.1:$(head -1 "$TMP/proxy.port")
}
start_proxy
T=cli_creds_assume_$$
ddb_api CreateTable '{"TableName":"'$T'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}' >/dev/null
AWS_ENDPOINT_URL_DYNAMODB=$PROXY expect_exit 0 "$DDBMIG" describe --table-name "$T" --profile a
keys_a=$(assumed access_key_id a)
used=$(python3 -c 'import json,sys; print(sorted({json.loads(l)["key"] for l in open(sys.argv[1])}))' "$TMP/keys.log")
[ "$used" = "['$(assumed access_key_id a | tail -1)']" ] || fail "DynamoDB Local saw $used, not role a's key ($keys_a)"

# 3. credential_source = Environment: c's keys from the environment.
AWS_ACCESS_KEY_ID=$CKEY AWS_SECRET_ACCESS_KEY=$CSECRET AWS_ENDPOINT_URL_DYNAMODB=$MOTO \
  expect_exit 0 "$DDBMIG" describe --table-name creds_t --profile env --debug
contains "$TMP/err" "credentials from profile env: role arn:aws:iam::123456789012:role/e via environment variables"
no_secrets "$TMP/err"
[ "$(assumed role_arn e | wc -l)" -eq 1 ] || fail "role e was not assumed"
env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY AWS_ENDPOINT_URL_DYNAMODB=$MOTO \
  "$DDBMIG" describe --table-name creds_t --profile env >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] || fail "credential_source Environment without keys should exit 2"
contains "$TMP/err" "profile env: credential_source = Environment, but AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set"

# 4. external_id: the trust policy wants ext-42.
AWS_ENDPOINT_URL_DYNAMODB=$MOTO expect_exit 0 "$DDBMIG" describe --table-name creds_t --profile ext --debug
no_secrets "$TMP/err"
[ "$(assumed external_id x)" = "ext-42" ] || fail "external id: $(assumed external_id x)"
[ "$(assumed session_name x)" = "ext-session" ] || fail "role_session_name: $(assumed session_name x)"
AWS_ENDPOINT_URL_DYNAMODB=$MOTO expect_exit 2 "$DDBMIG" describe --table-name creds_t --profile ext_wrong --debug
contains "$TMP/err" "profile ext_wrong: AssumeRole failed: AccessDenied"
no_secrets "$TMP/err"

# 5. A loop.
AWS_ENDPOINT_URL_DYNAMODB=$MOTO expect_exit 2 "$DDBMIG" describe --table-name creds_t --profile loop1
contains "$TMP/err" "source_profile loops: profile loop1 -> loop2 -> loop1"

# 6. MFA: without a terminal, a clear error and no request to STS...
before=$(assumed role_arn m | wc -l)
AWS_ENDPOINT_URL_DYNAMODB=$MOTO setsid -w "$DDBMIG" describe --table-name creds_t --profile mfa </dev/null \
  >"$TMP/out" 2>"$TMP/err"
[ $? -eq 2 ] || fail "mfa without a terminal should exit 2: $(cat "$TMP/err")"
contains "$TMP/err" "profile mfa needs a code from the MFA device arn:aws:iam::123456789012:mfa/c (mfa_serial), and there is no terminal"
# ...and on a terminal (a pty), asked there without echo.
AWS_ENDPOINT_URL_DYNAMODB=$MOTO python3 - "$DDBMIG" describe --table-name creds_t --profile mfa \
  >"$TMP/out" 2>&1 <<'PY'
import os, pty, select, sys
pid, fd = pty.fork()  # the child's controlling terminal is the pty
if pid == 0:
    os.execv(sys.argv[1], sys.argv[1:])
out, sent = b"", False
while True:
    ready, _, _ = select.select([fd], [], [], 60)
    if not ready:
        break
    try:
        data = os.read(fd, 4096)
    except OSError:
        break
    if not data:
        break
    out += data
    if not sent and b"Enter MFA code" in out:
        os.write(fd, b"246810\n")  # typed once the prompt is there
        sent = True
_, status = os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
sys.exit(os.waitstatus_to_exitcode(status))
PY
[ $? -eq 0 ] || fail "mfa on a terminal: $(cat "$TMP/out")"
contains "$TMP/out" "Enter MFA code for arn:aws:iam::123456789012:mfa/c:"
contains "$TMP/out" "creds_t"
lacks "$TMP/out" "246810"
[ "$(assumed role_arn m | wc -l)" -eq $((before + 1)) ] || fail "role m was not assumed with the code"

# 7. Role credentials of 20 seconds, refreshed during a run of many.
python3 - "$EP" "$T" <<'PY'
import json, sys, urllib.request
ep, t = sys.argv[1], sys.argv[2]
def call(op, body):
    req = urllib.request.Request(ep, json.dumps(body).encode(), {
        "X-Amz-Target": "DynamoDB_20120810." + op, "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=host, Signature=0"})
    urllib.request.urlopen(req).read()
for i in range(0, 300, 25):
    call("BatchWriteItem", {"RequestItems": {t: [{"PutRequest": {"Item": {"pk": {"S": "k%03d" % j}}}}
                                                 for j in range(i, i + 25)]}})
PY
: >"$TMP/keys.log"
AWS_ENDPOINT_URL_DYNAMODB=$PROXY expect_exit 0 "$DDBMIG" run --table-name "$T" -e 'item.n = 1; return item' \
  --yes --quiet --workers 2 --max-write-units 10 --checkpoint "$TMP/ck.json" --errors "$TMP/errors.jsonl" \
  --profile short
contains "$TMP/out" "300"
lacks "$TMP/err" "refreshing credentials failed"
assumed access_key_id short >"$TMP/issued"
python3 - "$TMP/keys.log" "$TMP/issued" <<'PY' || fail "keys during the run"
import json, sys
seen = [json.loads(l) for l in open(sys.argv[1])]
issued = set(open(sys.argv[2]).read().split())
writes = {e["key"] for e in seen if e["target"].endswith(("UpdateItem", "PutItem", "BatchWriteItem",
                                                             "BatchExecuteStatement"))}
assert all(e["key"] in issued for e in seen), ("a key STS did not issue", {e["key"] for e in seen} - issued)
assert len(writes) >= 2, ("the writes used %d role key(s); the 20-second credentials were not refreshed" % len(writes))
print("run: %d requests, %d role keys over the writes, %d issued" % (len(seen), len(writes), len(issued)))
PY
left=$(ddb_api Scan '{"TableName":"'$T'","FilterExpression":"attribute_not_exists(n)","Select":"COUNT"}' |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["Count"])')
[ "$left" = "0" ] || fail "$left items not migrated"

ddb_api DeleteTable '{"TableName":"'$T'"}' >/dev/null
finish
