# ddbmig's option table: every bad value is refused with exit 2 and a
# message naming the option and the value, before any request; options of
# another command are refused; help shows every option. No DynamoDB needed:
# the endpoint is a closed port with one attempt, so a value that slipped
# through would end in a network error (exit 4), not in exit 2.
set -u
D=$DDBMIG
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
export AWS_ACCESS_KEY_ID=AKIDOPTIONS AWS_SECRET_ACCESS_KEY=options-secret AWS_EC2_METADATA_DISABLED=true HOME=$TMP
unset AWS_PROFILE AWS_REGION AWS_DEFAULT_REGION AWS_ENDPOINT_URL AWS_ENDPOINT_URL_DYNAMODB
NOWHERE=(--endpoint-url http://127.0.0.1:1 --max-attempts 1)
cd "$TMP"

failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

# refused WORDS CMD...: exit 2, stderr has WORDS, nothing on stdout.
refused() {
  local words=$1; shift
  "$@" >"$TMP/out" 2>"$TMP/err"
  local rc=$?
  [ "$rc" -eq 2 ] || { fail "'$*' exited $rc, expected 2: $(cat "$TMP/err")"; return; }
  grep -qF -- "$words" "$TMP/err" || fail "'$*': stderr lacks '$words': $(cat "$TMP/err")"
  [ ! -s "$TMP/out" ] || fail "'$*' printed on stdout: $(cat "$TMP/out")"
}

RUN=("$D" run --table-name t -e 'return item' --yes "${NOWHERE[@]}")
VERIFY=("$D" verify --table-name t -e 'return item' "${NOWHERE[@]}")

# Out of range: named with the value and the accepted range.
refused "--total-segments 0 is out of range: N must be from 1 to 1000000" "${RUN[@]}" --total-segments 0
refused "--total-segments -4 is out of range" "${RUN[@]}" --total-segments -4
refused "--total-segments 1000001 is out of range" "${RUN[@]}" --total-segments 1000001
refused "--total-segments 0 is out of range" "${VERIFY[@]}" --total-segments 0
refused "--workers 0 is out of range: N must be from 1 to 1024" "${RUN[@]}" --workers 0
refused "--workers 100000 is out of range" "${RUN[@]}" --workers 100000
refused "--page-size 0 is out of range" "${RUN[@]}" --page-size 0
refused "--limit 0 is out of range" "${RUN[@]}" --limit 0
refused "--limit -3 is out of range" "${RUN[@]}" --limit -3
refused "--limit 99999999999999999999 is out of range: N must be from 1 to 9223372036854775807" \
  "${RUN[@]}" --limit 99999999999999999999
refused "--max-errors 0 is out of range" "${RUN[@]}" --max-errors 0
refused "--show-diffs -1 is out of range: K must be from 0 to 1000000" "${RUN[@]}" --dry-run --show-diffs -1
refused "--max-attempts 0 is out of range: N must be from 1 to 1000" "$D" run --table-name t -e x --max-attempts 0
for units in max-read-units max-write-units; do
  refused "--$units 0 is out of range: " "${RUN[@]}" --$units 0
  refused "--$units -5 is out of range" "${RUN[@]}" --$units -5
  refused "--$units 1e999 is out of range" "${RUN[@]}" --$units 1e999
  for v in nan NaN inf -inf 10x 0x10 ' 5' ''; do
    refused "--$units wants a number, not '$v'" "${RUN[@]}" --$units "$v"
  done
done
refused "--max-read-units 0 is out of range" "${VERIFY[@]}" --max-read-units=0
for price in read-price write-price; do
  refused "--$price wants a number, not 'nan'" "${RUN[@]}" --$price nan
  refused "--$price -0.5 is out of range: USD must be at least 0" "${RUN[@]}" --$price -0.5
done

# Not numbers at all.
for v in 10x '' 1.5 1e3 ' 7' 0x10; do
  refused "--total-segments wants a whole number, not '$v'" "${RUN[@]}" --total-segments "$v"
done
refused "--workers wants a whole number, not 'many'" "${RUN[@]}" --workers=many

# Strings and choices.
refused "--table-name needs a value, not an empty string" "$D" run --table-name '' -e x "${NOWHERE[@]}"
refused "--marker needs a value, not an empty string" "${RUN[@]}" --marker ''
refused "--write-mode must be update, put or batch, not 'sideways'" "${RUN[@]}" --write-mode sideways
refused "--output must be text or json, not 'yaml'" "${RUN[@]}" --output yaml
refused "--table-name is required" "$D" run -e x "${NOWHERE[@]}"
refused "--workers needs a value (N)" "${RUN[@]}" --workers
refused "--dry-run takes no value" "${RUN[@]}" --dry-run=yes
refused "unknown option '--frobnicate'" "${RUN[@]}" --frobnicate

# The filter's names and values are checked before any request.
refused "--expression-attribute-names is not valid JSON" "${RUN[@]}" --filter-expression '#a = :v' \
  --expression-attribute-names '{"#a": }' --expression-attribute-values '{":v": {"S": "x"}}'
refused "--expression-attribute-values must be a JSON object" "${VERIFY[@]}" --filter-expression 'a = :v' \
  --expression-attribute-values '[1]'
refused "--expression-attribute-names/-values go with --filter-expression" "${RUN[@]}" \
  --expression-attribute-values '{":v": {"S": "x"}}'

# run's options that mean nothing to verify.
for o in --yes --dry-run --resume --no-pitr-check; do
  refused "$o is an option of run, not of verify" "${VERIFY[@]}" $o
done
for o in "--limit 5" "--target-table-name other" "--write-mode put" "--max-write-units 5" "--checkpoint cp.json" \
  "--errors e.jsonl" "--max-errors 3" "--read-price 1"; do
  refused "${o%% *} is an option of run, not of verify" "${VERIFY[@]}" $o
done
refused "--workers is an option of export, not of import" "$D" import --table-name t --file f.jsonl --workers 2
refused "unknown option '--script'" "$D" export --table-name t --file f --script s.lua

# export, import and describe check their values the same way.
refused "--total-segments 0 is out of range" "$D" export --table-name t --file f.jsonl --total-segments 0 "${NOWHERE[@]}"
refused "--workers 2000 is out of range" "$D" export --table-name t --file f.jsonl --workers 2000 "${NOWHERE[@]}"
refused "--file needs a value, not an empty string" "$D" import --table-name t --file '' "${NOWHERE[@]}"
refused "--file is required" "$D" import --table-name t "${NOWHERE[@]}"
refused "--table-name needs a value, not an empty string" "$D" describe --table-name '' "${NOWHERE[@]}"
refused "--max-attempts wants a whole number, not '3x'" "$D" describe --table-name t --max-attempts 3x

# Nothing was created for any of them.
[ ! -e "$TMP/.ddbmig" ] || fail "a refused command created .ddbmig/"

# Help comes from the same table: every option of each command, -e shown
# as such, ranges included; run --help is help run.
"$D" help run >"$TMP/help_run" || fail "help run"
"$D" run --help >"$TMP/run_help" || fail "run --help"
cmp -s "$TMP/help_run" "$TMP/run_help" || fail "help run and run --help differ"
for o in "-e CODE" "--script FILE" "--table-name NAME" "--target-table-name NAME" "--total-segments N" \
  "--workers N" "--write-mode update|put|batch" "--max-read-units R" "--max-write-units U" "--dry-run" \
  "--show-diffs K" "--limit N" "--checkpoint FILE" "--resume" "--errors FILE" "--max-errors N" "--marker ATTR" \
  "--migration-id ID" "--filter-expression EXPR" "--expression-attribute-names JSON" \
  "--expression-attribute-values JSON" "--consistent-read" "--page-size N" "-y, --yes" "--no-pitr-check" \
  "--read-price USD" "--write-price USD" "-q, --quiet" "--endpoint-url URL" "--max-attempts N" \
  "N from 1 to 1000000" "R more than 0 and at most 1000000000" "USD at least 0 and at most 1000000"; do
  grep -qF -- "$o" "$TMP/help_run" || fail "help run lacks '$o'"
done
grep -qF -- "--e " "$TMP/help_run" && fail "help run shows -e as --e"
"$D" help verify >"$TMP/help_verify" || fail "help verify"
for o in "-e CODE" "--marker ATTR" "--show-diffs K" "--max-read-units R" "-q, --quiet"; do
  grep -qF -- "$o" "$TMP/help_verify" || fail "help verify lacks '$o'"
done
for o in "--yes" "--dry-run" "--limit" "--write-mode" "--resume"; do
  grep -qF -- "$o" "$TMP/help_verify" && fail "help verify shows $o"
done
"$D" help export >"$TMP/help_export" || fail "help export"
grep -qF -- "--workers N" "$TMP/help_export" || fail "help export lacks --workers"
"$D" help import >"$TMP/help_import" || fail "help import"
grep -qF -- "--workers" "$TMP/help_import" && fail "help import shows --workers"

# A secret pasted into bad input is never said back: the environment's
# secret key and session token are redacted from everything on stderr.
for url in 'options-secret' 'htp://options-secret' 'http://127.0.0.1:1/?k=options-secret' \
  'http://options-secret.invalid/' 'http://127.0.0.1:1/session-token-x1'; do
  AWS_SESSION_TOKEN=session-token-x1 "$D" describe --table-name t --endpoint-url "$url" --max-attempts 1 --debug \
    >"$TMP/out" 2>"$TMP/err"
  grep -q 'options-secret\|session-token-x1' "$TMP/out" "$TMP/err" && fail "a secret was said back for $url"
  grep -qF '[redacted]' "$TMP/err" || fail "nothing redacted for $url: $(cat "$TMP/err")"
done
"$D" run --table-name t -e 'error("options-secret")' --yes "${NOWHERE[@]}" >"$TMP/out" 2>"$TMP/err"
grep -q 'options-secret' "$TMP/out" "$TMP/err" && fail "a script's error said the secret back"

[ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
