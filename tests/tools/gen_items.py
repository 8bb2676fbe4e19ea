#!/usr/bin/env python3
"""Writes N sample order items as DynamoDB JSON lines (gzip when the name
ends in .gz): every DynamoDB type, 38-digit numbers, nested documents.
The same N and seed always give the same file.

usage: gen_items.py N FILE [SEED]
"""
import base64
import gzip
import json
import random
import sys


def item(i, rnd):
    statuses = ["NEW", "PAID", "SHIPPED", "DELIVERED", "CANCELLED"]
    it = {
        "pk": {"S": "ORDER#%07d" % i},
        "customer": {"S": "CUST#%05d" % rnd.randrange(20000)},
        "status": {"S": rnd.choice(statuses)},
        "total": {"N": "%d.%02d" % (rnd.randrange(1, 2000), rnd.randrange(100))},
        "createdAt": {"S": "2025-%02d-%02dT%02d:%02d:00Z" % (rnd.randrange(1, 13), rnd.randrange(1, 29),
                                                           rnd.randrange(24), rnd.randrange(60))},
        "lines": {"L": [{"M": {"sku": {"S": "SKU-%04d" % rnd.randrange(9999)},
                                 "qty": {"N": str(rnd.randrange(1, 5))}}}
                          for _ in range(rnd.randrange(1, 4))]},
        "tags": {"SS": sorted(set(rnd.choice(["gift", "express", "fragile", "bulk", "vip"])
                                  for _ in range(rnd.randrange(1, 4))))},
        "gift": {"BOOL": rnd.random() < 0.1},
    }
    if i % 7 == 0:
        it["ledger"] = {"N": "".join(str(rnd.randrange(10)) for _ in range(37)) + "1"}
    if i % 11 == 0:
        it["note"] = {"NULL": True}
    if i % 13 == 0:
        it["sig"] = {"B": base64.b64encode(bytes(rnd.randrange(256) for _ in range(12))).decode()}
    if i % 17 == 0:
        it["scores"] = {"NS": [str(rnd.randrange(100)) + ".5", "-1E-5", "12345678901234567890123456789012345678"]}
    return it


def main():
    n, path = int(sys.argv[1]), sys.argv[2]
    rnd = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 42)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wt") as f:
        for i in range(n):
            f.write(json.dumps(item(i, rnd), separators=(",", ":"), ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
