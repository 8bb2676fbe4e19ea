# Endpoints that do not parse, from each place an endpoint is configured:
# exit 2, a message naming the source, nothing sent, and a password in the
# URL never shown (errors, --debug, JSON output). Needs no DynamoDB Local.
set -u
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export AWS_ACCESS_KEY_ID=AKIDLOCALTEST AWS_SECRET_ACCESS_KEY=local-secret-value
export AWS_EC2_METADATA_DISABLED=true HOME=$TMP AWS_REGION=us-east-1
unset AWS_PROFILE AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB AWS_SESSION_TOKEN AWS_CONFIG_FILE

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# with SOURCE URL CMD...: runs CMD with URL configured through SOURCE.
with() {
  local source=$1 url=$2; shift 2
  case $source in
    --endpoint-url) "$@" --endpoint-url "$url" ;;
    profile) printf '[default]\nendpoint_url = %s\n' "$url" >"$TMP/config"
             AWS_CONFIG_FILE=$TMP/config "$@" ;;
    *) env "$source=$url" "$@" ;;
  esac
}

# refused SOURCE NAMED URL WORDS ARGS...: exit 2, the source named, WORDS said.
refused() {
  local source=$1 named=$2 url=$3 words=$4; shift 4
  with "$source" "$url" "$DDBMIG" "$@" >"$TMP/out" 2>"$TMP/err"
  local got=$?
  [ "$got" -eq 2 ] || fail "$source=[$url] $*: exit $got, expected 2: $(cat "$TMP/err")"
  grep -qF -- "$named" "$TMP/err" || fail "$source=[$url]: message does not name $named: $(cat "$TMP/err")"
  grep -qF -- "$words" "$TMP/err" || fail "$source=[$url]: message lacks '$words': $(cat "$TMP/err")"
  if grep -q "s3cr3t" "$TMP/out" "$TMP/err"; then fail "$source=[$url] $*: the password was shown"; fi
}

sources=(--endpoint-url AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL profile)
names=("--endpoint-url: " "AWS_ENDPOINT_URL_DYNAMODB: " "AWS_ENDPOINT_URL: " "endpoint_url of profile 'default' in $TMP/config")
for i in 0 1 2 3; do
  s=${sources[$i]} n=${names[$i]}
  refused "$s" "$n" "http//x" "does not start with a scheme" describe --table-name t
  refused "$s" "$n" "ftp://x" "the scheme 'ftp' is not supported" describe --table-name t
  refused "$s" "$n" "http://" "it has no host" describe --table-name t
  refused "$s" "$n" "http://[::1" "no closing ']'" describe --table-name t
  refused "$s" "$n" "http://h:99999" "the port 99999 is out of range" describe --table-name t
  refused "$s" "$n" "localhost:8000" "does not start with a scheme" describe --table-name t
  refused "$s" "$n" "http://h/?x=1" "has a query or fragment" describe --table-name t
  [ "$s" = profile ] || refused "$s" "$n" "http://a b" "a space" describe --table-name t
  [ "$s" = profile ] || refused "$s" "$n" $'http://h/\x07' "control character 0x07" describe --table-name t
  # A password: refused, never shown, not even with --debug or as JSON.
  refused "$s" "$n" "http://alice:s3cr3t@localhost:1" "[redacted]" describe --table-name t
  refused "$s" "$n" "http://alice:s3cr3t@localhost:1" "[redacted]" describe --table-name t --debug
  refused "$s" "$n" "http//alice:s3cr3t@localhost" "[redacted]" describe --table-name t --debug
  refused "$s" "$n" "http://alice:s3cr3t@[::1" "[redacted]" run --table-name t -e 'return item' --yes --output json
done

# --endpoint-url outranks the environment: its error is the one reported.
AWS_ENDPOINT_URL=http://fine:1 refused --endpoint-url "--endpoint-url: " "ftp://x" "ftp" describe --table-name t

[ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
