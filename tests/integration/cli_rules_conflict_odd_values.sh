# The engine's safety rules against DynamoDB Local: case 'conflict_odd_values' of test_rules.py.
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
python3 "$DDBMIG_TESTS_DIR/integration/test_rules.py" "$DDBMIG" "$DDBMIG_TESTS_DIR" "$EP" conflict_odd_values
