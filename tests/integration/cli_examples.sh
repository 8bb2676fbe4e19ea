# Every script of examples/ against DynamoDB Local (see test_examples.py).
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
python3 "$DDBMIG_TESTS_DIR/integration/test_examples.py" "$DDBMIG" "$DDBMIG_TESTS_DIR/../examples" "$EP"
