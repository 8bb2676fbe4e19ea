# The engine's safety rules against DynamoDB Local: case 'statements_refused' of test_rules.py.
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
python3 "$DDBMIG_TESTS_DIR/integration/test_rules.py" "$DDBMIG" "$DDBMIG_TESTS_DIR" "$EP" statements_refused
