"""A small, independent DynamoDB JSON client for tests (Python's standard
library, unsigned requests: DynamoDB Local does not check signatures).
It shares no code with ddbmig, so reading back through it checks what
ddbmig really wrote.

usage as a tool:
  ddb.py ENDPOINT create TABLE HASH[:TYPE] [RANGE[:TYPE]]
  ddb.py ENDPOINT delete TABLE
  ddb.py ENDPOINT put TABLE < items.jsonl
  ddb.py ENDPOINT scan TABLE > items.jsonl      (sorted by key)
"""
import json
import sys
import time
import urllib.error
import urllib.request


class Client:
    def __init__(self, endpoint):
        self.endpoint = endpoint

    def call(self, op, body):
        req = urllib.request.Request(self.endpoint, data=json.dumps(body).encode(), headers={
            "X-Amz-Target": "DynamoDB_20120810." + op,
            "Content-Type": "application/x-amz-json-1.0",
            "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDTEST/20260101/us-east-1/dynamodb/aws4_request, "
                             "SignedHeaders=host, Signature=0"})
        try:
            with urllib.request.urlopen(req) as r:
                return json.loads(r.read())
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s: %s" % (op, e.read().decode()))

    def create(self, table, hash_key, range_key=None, gsis=None):
        defs, schema = [], []
        for name, kind in ((hash_key, "HASH"), (range_key, "RANGE")):
            if name:
                n, _, t = name.partition(":")
                defs.append({"AttributeName": n, "AttributeType": t or "S"})
                schema.append({"AttributeName": n, "KeyType": kind})
        body = {"TableName": table, "AttributeDefinitions": defs, "KeySchema": schema,
                "BillingMode": "PAY_PER_REQUEST"}
        self.call("CreateTable", body)
        self.wait(table)

    def wait(self, table):
        for _ in range(100):
            t = self.call("DescribeTable", {"TableName": table})["Table"]
            if t["TableStatus"] == "ACTIVE":
                return
            time.sleep(0.1)

    def delete(self, table):
        try:
            self.call("DeleteTable", {"TableName": table})
        except RuntimeError:
            pass

    def put_all(self, table, items):
        for i in range(0, len(items), 25):
            reqs = [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]
            while reqs:
                r = self.call("BatchWriteItem", {"RequestItems": {table: reqs}})
                reqs = r.get("UnprocessedItems", {}).get(table, [])

    def put(self, table, item):
        self.call("PutItem", {"TableName": table, "Item": item})

    def update(self, table, key, expr, values, names=None, condition=None):
        """UpdateItem; with a condition, returns False when it failed."""
        body = {"TableName": table, "Key": key, "UpdateExpression": expr, "ExpressionAttributeValues": values}
        if names:
            body["ExpressionAttributeNames"] = names
        if condition:
            body["ConditionExpression"] = condition
        try:
            self.call("UpdateItem", body)
        except RuntimeError as e:
            if condition and "ConditionalCheckFailed" in str(e):
                return False
            raise
        return True

    def get(self, table, key):
        return self.call("GetItem", {"TableName": table, "Key": key, "ConsistentRead": True}).get("Item")

    def scan(self, table):
        items, start = [], None
        while True:
            body = {"TableName": table, "ConsistentRead": True}
            if start:
                body["ExclusiveStartKey"] = start
            r = self.call("Scan", body)
            items.extend(r["Items"])
            start = r.get("LastEvaluatedKey")
            if not start:
                return items


def key_of(item, keys=("pk", "sk")):
    return tuple(json.dumps(item[k], sort_keys=True) for k in keys if k in item)


def main():
    c = Client(sys.argv[1])
    cmd, table = sys.argv[2], sys.argv[3]
    if cmd == "create":
        c.create(table, sys.argv[4], sys.argv[5] if len(sys.argv) > 5 else None)
    elif cmd == "delete":
        c.delete(table)
    elif cmd == "put":
        c.put_all(table, [json.loads(l) for l in sys.stdin if l.strip()])
    elif cmd == "scan":
        for it in sorted(c.scan(table), key=key_of):
            print(json.dumps(it, sort_keys=True, ensure_ascii=False))


if __name__ == "__main__":
    main()
