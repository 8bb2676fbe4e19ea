#!/usr/bin/python3
"""A hand-written batch copy with boto3, as bench/fake-run's Python peer:
boto3's Table resource, a parallel Scan with one thread per segment, and
Table.batch_writer() (25 items per BatchWriteItem, UnprocessedItems
resent) into the target table. Same work as
`ddbmig run --write-mode batch` with examples/add-updated-at.lua: every
item gets updatedAt unless it has one. (No guard, no resume.)

usage: peer-batch.py SOURCE TARGET SEGMENTS ENDPOINT
The endpoint's certificate is trusted through AWS_CA_BUNDLE.
"""
import datetime
import sys
import threading

import boto3

source, target, segments, endpoint = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
counts = {"scanned": 0, "written": 0}
errors = []
lock = threading.Lock()


def segment(seg):
    try:
        session = boto3.session.Session(region_name="us-east-1")
        db = session.resource("dynamodb", endpoint_url=endpoint)
        src, dst = db.Table(source), db.Table(target)
        kwargs = {"Segment": seg, "TotalSegments": segments}
        scanned = written = 0
        with dst.batch_writer() as batch:
            while True:
                page = src.scan(**kwargs)
                for item in page["Items"]:
                    scanned += 1
                    if "updatedAt" not in item:
                        item["updatedAt"] = now
                    batch.put_item(Item=item)
                    written += 1
                if "LastEvaluatedKey" not in page:
                    break
                kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        with lock:
            counts["scanned"] += scanned
            counts["written"] += written
    except Exception as e:  # a failed segment fails the run
        with lock:
            errors.append(f"segment {seg}: {e!r}")


threads = [threading.Thread(target=segment, args=(s,)) for s in range(segments)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(counts)
if errors:
    print("\n".join(errors), file=sys.stderr)
    sys.exit(1)
