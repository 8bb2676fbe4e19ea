# ddbmig aws template: the CloudFormation template passes cfn-lint and its
# state machine passes asl-validator, for the shapes a user can ask for.
# Both tools are required (install-deps puts asl-validator in .cache/npm;
# cfn-lint comes with python3 on these machines): the test says so when
# one is missing instead of passing without them.
set -u
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
TOP=$(cd "$TESTS/.." && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
ASL="$TOP/.cache/npm/node_modules/.bin/asl-validator"
command -v cfn-lint >/dev/null || { echo "FAIL: cfn-lint is not installed (pip install cfn-lint)"; exit 1; }
[ -x "$ASL" ] || { echo "FAIL: asl-validator is not installed (scripts/install-deps installs it)"; exit 1; }
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }

printf 'function migrate(item, ctx)\n  item.updatedAt = ctx.now\n  return item\nend\n' >"$TMP/m.lua"
check() {
  local name=$1; shift
  "$DDBMIG" aws template "$@" --output "$TMP/$name.json" 2>"$TMP/err" || { fail "$name: $(cat "$TMP/err")"; return; }
  cfn-lint "$TMP/$name.json" >"$TMP/lint" 2>&1 || fail "$name: cfn-lint: $(head -c 1500 "$TMP/lint")"
  python3 - "$TMP/$name.json" "$TMP/$name.asl.json" <<'PY' || fail "$name: no definition"
import json, sys
t = json.load(open(sys.argv[1]))
text, refs = t["Resources"]["StateMachine"]["Properties"]["DefinitionString"]["Fn::Sub"]
assert set(refs) == {"FunctionArn"}, refs
open(sys.argv[2], "w").write(text.replace("${FunctionArn}", "arn:aws:lambda:us-east-1:123456789012:function:f"))
PY
  "$ASL" --json-path "$TMP/$name.asl.json" >"$TMP/asl" 2>&1 || fail "$name: asl-validator: $(head -c 1500 "$TMP/asl")"
}
check small --table-name orders -e 'item.x = 1; return item'
check full --table-name orders --script "$TMP/m.lua" --target-table-name orders_v2 --write-mode batch \
  --marker _mig --filter-expression 'attribute_exists(#s)' --expression-attribute-names '{"#s":"status"}' \
  --total-segments 10000 --max-concurrency 10000 --tolerated-failure-percentage 2 --max-write-units 40000 \
  --max-read-units 80000 --max-errors 50 --migration-id orders-2026
check prewarm --table-name orders -e 'return item' --prewarm --prewarm-write-units 4000 --prewarm-method provisioned
python3 - "$TMP/prewarm.asl.json" <<'PY' || fail "prewarm: the capacity steps are not around the Map"
import json, sys
d = json.load(open(sys.argv[1]))
s = d["States"]
assert d["StartAt"] == "Prewarm" and s["Segments"]["Next"] == "Restore", d["StartAt"]
assert s["Segments"]["Catch"][0]["Next"] == "Restore after failure"
assert s["Prewarm"]["Parameters"]["Payload"] == {"action": "prewarm", "tableName": "orders", "writeUnits": 4000,
                                                 "method": "provisioned"}, s["Prewarm"]["Parameters"]
assert s["Restore after failure"]["Next"] == "Failed" and s["Restore"]["Next"] == "Done"
PY
# To standard output by default; bad options are refused with exit 2.
"$DDBMIG" aws template --table-name orders -e 'return item' | python3 -c 'import json,sys; json.load(sys.stdin)' ||
  fail "stdout is not JSON"
"$DDBMIG" aws template --table-name orders -e 'return item' --max-concurrency 10001 2>/dev/null
[ $? -eq 2 ] || fail "--max-concurrency 10001 accepted"
"$DDBMIG" aws template --table-name orders 2>/dev/null
[ $? -eq 2 ] || fail "no transform accepted"
[ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
