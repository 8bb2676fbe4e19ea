# The engine against DynamoDB Local: case 'deadline_lost' of test_engine.py.
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
python3 "$DDBMIG_TESTS_DIR/integration/test_engine.py" "$DDBMIG" "$DDBMIG_TESTS_DIR" "$EP" deadline_lost
