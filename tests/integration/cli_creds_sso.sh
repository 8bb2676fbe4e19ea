# IAM Identity Center profiles against a loopback portal and OIDC service
# (tests/fakes/sso_fake.py), with the token cache written and read back by
# botocore's own code (SSOTokenLoader over JSONFileCache, as `aws sso
# login` writes it), and DynamoDB Local behind a proxy that records which
# access key reached it:
#   - the sso-session form with a valid token;
#   - an expired token with a refresh token: refreshed, the cache file
#     rewritten (0600) in a form botocore reads;
#   - no cached login, and an expired one without a refresh token: exit 2
#     naming `aws sso login --profile P`;
#   - the legacy form (sso_start_url in the profile), valid and expired;
#   - a role assumed with the SSO credentials (source_profile);
#   - no token, client secret, role secret or session token in any --debug
#     output.
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
python3 -c 'import botocore.utils' 2>/dev/null || { echo "botocore is not importable: skipped"; exit 77; }
FAKES=$DDBMIG_TESTS_DIR/fakes
FPID= PPID_=
cleanup() {
  [ -n "$FPID" ] && kill "$FPID" 2>/dev/null && wait "$FPID" 2>/dev/null
  [ -n "$PPID_" ] && kill "$PPID_" 2>/dev/null && wait "$PPID_" 2>/dev/null
  rm -rf "$TMP"
}
trap cleanup EXIT

# start FILE ARGS...: a fake whose port it prints first; sets $URL.
start() {
  local out=$1; shift
  python3 "$FAKES/sso_fake.py" "$@" >"$out" &
  local pid=$!
  for _ in $(seq 1 50); do [ -s "$out" ] && break; sleep 0.1; done
  URL=http://127.0.0.1:$(head -1 "$out")
  LAST_PID=$pid
}
start "$TMP/fake.port" "$TMP/sso.log"
FPID=$LAST_PID
FAKE=$URL
: >"$TMP/keys.log"
start "$TMP/proxy.port" proxy "$EP" "$TMP/keys.log"
PPID_=$LAST_PID
PROXY=$URL

cat >"$TMP/config" <<EOF
[profile dev]
sso_session = corp
sso_account_id = 111122223333
sso_role_name = Migrator
region = us-east-1
[sso-session corp]
sso_start_url = https://corp.awsapps.com/start
sso_region = eu-west-1
sso_registration_scopes = sso:account:access
[profile old]
sso_start_url = https://old.awsapps.com/start
sso_region = us-east-2
sso_account_id = 444455556666
sso_role_name = Migrator
[profile ops]
role_arn = arn:aws:iam::111122223333:role/ops
source_profile = dev
EOF
export AWS_CONFIG_FILE=$TMP/config AWS_SHARED_CREDENTIALS_FILE=$TMP/nonexistent
export AWS_ENDPOINT_URL_SSO=$FAKE AWS_ENDPOINT_URL_SSO_OIDC=$FAKE AWS_ENDPOINT_URL_STS=$FAKE
export AWS_ENDPOINT_URL_DYNAMODB=$PROXY AWS_REGION=us-east-1
CACHE=$TMP/.aws/sso/cache

# save_token SESSION|- START_URL TOKEN SECONDS [refresh]: the cache entry,
# written by botocore's code for `aws sso login`.
save_token() {
  python3 - "$CACHE" "$@" <<'PY'
import datetime, sys
from botocore.utils import JSONFileCache, SSOTokenLoader
cache, session, start, token, seconds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
now = datetime.datetime.now(datetime.timezone.utc)
entry = {"startUrl": start, "region": "eu-west-1", "accessToken": token,
         "expiresAt": (now + datetime.timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")}
if len(sys.argv) > 6:
    entry.update({"clientId": "sso-client-id", "clientSecret": "sso-client-secret-value",
                  "registrationExpiresAt": "2099-01-01T00:00:00Z", "refreshToken": "sso-refresh-token-good"})
SSOTokenLoader(cache=JSONFileCache(cache)).save_token(start, entry, session_name=None if session == "-" else session)
PY
}
# cache_file SESSION|- START_URL: the file botocore names for it.
cache_file() {
  python3 -c 'import sys; from botocore.utils import SSOTokenLoader as L
print(L()._generate_cache_key(sys.argv[2], None if sys.argv[1] == "-" else sys.argv[1]))' "$1" "$2" |
    sed "s|^|$CACHE/|; s|\$|.json|"
}
SECRETS="sso-access-token sso-client-secret-value sso-refresh-token sso-role-secret sso-role-session role-secret role-session"
no_secrets() {
  for s in $SECRETS; do lacks "$1" "$s"; done
  grep -qiE 'Signature=[0-9a-f]{16}' "$1" && fail "$1 shows a signature"
}
keys_seen() { python3 -c 'import json,sys; print(" ".join(sorted({json.loads(l)["key"] for l in open(sys.argv[1])})))' "$TMP/keys.log"; }

T=cli_creds_sso_$$
ddb_api CreateTable '{"TableName":"'$T'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}' >/dev/null

# 1. sso-session form, valid token.
save_token corp https://corp.awsapps.com/start sso-access-token-valid 3600 refresh
f=$(cache_file corp https://corp.awsapps.com/start)
[ -f "$f" ] || fail "botocore did not write $f"
cp "$f" "$TMP/before.json"
expect_exit 0 "$DDBMIG" describe --table-name "$T" --profile dev --debug
contains "$TMP/out" "$T"
contains "$TMP/err" "credentials from profile dev: IAM Identity Center, account 111122223333, role Migrator"
no_secrets "$TMP/err"
case "$(keys_seen)" in ASIASSO[0-9]*) ;; *) fail "DynamoDB Local saw $(keys_seen), not the SSO role's key";; esac
cmp -s "$f" "$TMP/before.json" || fail "a valid token's cache file was rewritten"
grep -q '"path": "/federation/credentials?role_name=Migrator&account_id=111122223333"' "$TMP/sso.log" ||
  fail "no GetRoleCredentials: $(cat "$TMP/sso.log")"

# 2. Expired, with a refresh token: refreshed and written back.
save_token corp https://corp.awsapps.com/start sso-access-token-stale -120 refresh
: >"$TMP/keys.log"
expect_exit 0 "$DDBMIG" describe --table-name "$T" --profile dev --debug
contains "$TMP/err" "profile dev: SSO token refreshed, $f rewritten"
no_secrets "$TMP/err"
[ "$(stat -c %a "$f")" = 600 ] || fail "the rewritten cache file's mode is $(stat -c %a "$f")"
python3 - "$CACHE" <<'PY' || fail "botocore cannot read the refreshed cache file"
import datetime, sys
from botocore.utils import JSONFileCache, SSOTokenLoader
t = SSOTokenLoader(cache=JSONFileCache(sys.argv[1]))("https://corp.awsapps.com/start", session_name="corp")
assert t["accessToken"].startswith("sso-access-token-refreshed-"), t["accessToken"]
assert t["refreshToken"].startswith("sso-refresh-token-rotated-"), t["refreshToken"]
assert (t["clientId"], t["clientSecret"]) == ("sso-client-id", "sso-client-secret-value")
assert t["registrationExpiresAt"] == "2099-01-01T00:00:00Z" and t["startUrl"] == "https://corp.awsapps.com/start"
exp = datetime.datetime.strptime(t["expiresAt"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
assert exp > datetime.datetime.now(datetime.timezone.utc), t["expiresAt"]
PY
case "$(keys_seen)" in ASIASSO[0-9]*) ;; *) fail "after the refresh DynamoDB Local saw $(keys_seen)";; esac
ls "$CACHE" | grep -v '\.json$' && fail "a temporary file was left in $CACHE"

# 3. No login, and an expired one that cannot be refreshed.
rm -f "$f"
expect_exit 2 "$DDBMIG" describe --table-name "$T" --profile dev --debug
contains "$TMP/err" "profile dev: no IAM Identity Center login is cached for sso-session corp"
contains "$TMP/err" "run: aws sso login --profile dev"
save_token corp https://corp.awsapps.com/start sso-access-token-valid -60
expect_exit 2 "$DDBMIG" describe --table-name "$T" --profile dev --debug
contains "$TMP/err" "the IAM Identity Center login expired at"
contains "$TMP/err" "run: aws sso login --profile dev"
no_secrets "$TMP/err"

# 4. The legacy form: the file is named by the start URL.
save_token - https://old.awsapps.com/start sso-access-token-valid 3600
: >"$TMP/keys.log"
expect_exit 0 "$DDBMIG" describe --table-name "$T" --profile old --debug
contains "$TMP/err" "credentials from profile old: IAM Identity Center, account 444455556666, role Migrator"
no_secrets "$TMP/err"
case "$(keys_seen)" in ASIASSO[0-9]*) ;; *) fail "legacy: DynamoDB Local saw $(keys_seen)";; esac
save_token - https://old.awsapps.com/start sso-access-token-valid -60 refresh
expect_exit 2 "$DDBMIG" describe --table-name "$T" --profile old
contains "$TMP/err" "profile old: the IAM Identity Center login expired at"
contains "$TMP/err" "run: aws sso login --profile old"

# 5. A role assumed with the SSO role's credentials.
save_token corp https://corp.awsapps.com/start sso-access-token-valid 3600
: >"$TMP/keys.log"
expect_exit 0 "$DDBMIG" describe --table-name "$T" --profile ops --debug
contains "$TMP/err" "credentials from profile ops: role arn:aws:iam::111122223333:role/ops via profile dev"
no_secrets "$TMP/err"
case "$(keys_seen)" in ASIAROLE[0-9]*) ;; *) fail "role on SSO: DynamoDB Local saw $(keys_seen)";; esac
grep -q 'Credential=ASIASSO' "$TMP/sso.log" || fail "AssumeRole was not signed with the SSO role's key"

ddb_api DeleteTable '{"TableName":"'$T'"}' >/dev/null
finish
