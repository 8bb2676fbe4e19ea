#!/usr/bin/python3
"""The script teams write by hand today, in its most common form: boto3's
Table resource, a parallel Scan in threads, and a put_item of each changed
item. Same work as examples/add-updated-at.lua. (No guard against
concurrent writes, no resume; boto3's Decimal keeps 38-digit numbers.)

usage: sdk-script.py TABLE SEGMENTS ENDPOINT
"""
import datetime
import sys
import threading

import boto3

table_name, segments, endpoint = sys.argv[1], int(sys.argv[2]), sys.argv[3]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
counts = {"scanned": 0, "changed": 0}
lock = threading.Lock()


def segment(seg):
    session = boto3.session.Session(region_name="us-east-1")
    table = session.resource("dynamodb", endpoint_url=endpoint).Table(table_name)
    kwargs = {"Segment": seg, "TotalSegments": segments}
    scanned = changed = 0
    while True:
        page = table.scan(**kwargs)
        for item in page["Items"]:
            scanned += 1
            if "updatedAt" not in item:
                item["updatedAt"] = now
                table.put_item(Item=item)
                changed += 1
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    with lock:
        counts["scanned"] += scanned
        counts["changed"] += changed


threads = [threading.Thread(target=segment, args=(s,)) for s in range(segments)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(counts)
