# `ddbmig import` against DynamoDB Local: case 'dups' of test_import.py.
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
python3 "$DDBMIG_TESTS_DIR/integration/test_import.py" "$DDBMIG" "$DDBMIG_TESTS_DIR" "$EP" dups
