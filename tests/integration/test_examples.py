#!/usr/bin/env python3
"""Runs every script of examples/ with `ddbmig run` against DynamoDB Local
and checks the table afterwards with an independent client (tools/ddb.py).

usage: test_examples.py DDBMIG EXAMPLES_DIR ENDPOINT
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tools"))
import ddb  # noqa: E402

DDBMIG, EXAMPLES, ENDPOINT = sys.argv[1:4]
C = ddb.Client(ENDPOINT)
WORK = tempfile.mkdtemp()
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret",
           AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1")
failures = []


def run(table, script, *extra, expect=0):
    cmd = [DDBMIG, "run", "--table-name", table, "--script", os.path.join(EXAMPLES, script),
           "--endpoint-url", ENDPOINT, "--yes", "--quiet", "--total-segments", "3", "--workers", "2",
           "--output", "json"] + list(extra)
    p = subprocess.run(cmd, cwd=WORK, env=ENV, capture_output=True, text=True)
    if p.returncode != expect:
        raise AssertionError("%s exited %d:\n%s\n%s" % (script, p.returncode, p.stdout, p.stderr))
    return json.loads(p.stdout)


def by_pk(items):
    return {it["pk"]["S"] + ("|" + json.dumps(it["sk"]) if "sk" in it else ""): it for it in items}


def case(fn):
    table = "ex_" + fn.__name__ + "_%d" % os.getpid()
    C.delete(table)
    try:
        fn(table)
        print("ok   " + fn.__name__)
    except Exception as e:  # report and go on with the next example
        failures.append(fn.__name__)
        print("FAIL " + fn.__name__ + ": " + str(e))
    finally:
        C.delete(table)


def orders(n):
    out = []
    for i in range(n):
        it = {"pk": {"S": "o%03d" % i}, "customer": {"S": "c%d" % (i % 4)},
              "total": {"N": "12345678901234567890123456789012345678" if i % 3 == 0 else "%d.25" % i},
              "tags": {"SS": ["a", "b"]}, "blob": {"B": "AAEC/w=="}, "doc": {"M": {"l": {"L": [{"N": "1"}, {"NULL": True}]}}},
              "createdAt": {"S": "2024-0%d-01" % (1 + i % 9)}}
        if i % 5 == 0:
            it["updatedAt"] = {"S": "2020-01-01T00:00:00Z"}
        out.append(it)
    return out


@case
def add_updated_at(table):
    C.create(table, "pk")
    before = orders(40)
    C.put_all(table, before)
    s = run(table, "add-updated-at.lua")
    assert s["changed"] == 32 and s["unchanged"] == 8 and s["failed"] == 0, s
    after = by_pk(C.scan(table))
    for it in before:
        got = dict(after[it["pk"]["S"]])
        if "updatedAt" not in it:
            assert got.pop("updatedAt")["S"].endswith("Z")
        # Every other attribute reads back exactly as it was.
        assert got == it, (got, it)
    again = run(table, "add-updated-at.lua")
    assert again["changed"] == 0 and again["writes"] == 0, again


@case
def rename_attribute(table):
    C.create(table, "pk")
    C.put_all(table, orders(10))
    s = run(table, "rename-attribute.lua")
    assert s["changed"] == 10, s
    for it in C.scan(table):
        assert "customer" not in it and it["customerId"]["S"].startswith("c"), it


@case
def number_to_string(table):
    C.create(table, "pk")
    C.put_all(table, [{"pk": {"S": "z%d" % i}, "zip": {"N": str(i * 1000 + 7)}} for i in range(6)] +
              [{"pk": {"S": "already"}, "zip": {"S": "01234"}}])
    s = run(table, "number-to-string.lua")
    assert s["changed"] == 6 and s["unchanged"] == 1, s
    got = {it["pk"]["S"]: it["zip"] for it in C.scan(table)}
    assert got["z0"] == {"S": "00007"} and got["z3"] == {"S": "03007"} and got["already"] == {"S": "01234"}, got


@case
def reformat_sort_key(table):
    C.create(table, "pk", "sk")
    items = [{"pk": {"S": "u%d" % (i % 3)}, "sk": {"S": "2025-03-%02d" % i}, "v": {"N": str(i)}} for i in range(1, 10)]
    items.append({"pk": {"S": "u0"}, "sk": {"S": "DATE#2024-01-01"}, "v": {"N": "0"}})
    C.put_all(table, items)
    s = run(table, "reformat-sort-key.lua")
    assert s["changed"] == 9 and s["moved"] == 9, s
    after = C.scan(table)
    assert len(after) == 10, after
    assert all(it["sk"]["S"].startswith("DATE#") for it in after), after
    v = {it["sk"]["S"]: it["v"]["N"] for it in after}
    assert v["DATE#2025-03-05"] == "5", v


@case
def split_item(table):
    C.create(table, "pk")
    C.put_all(table, [{"pk": {"S": "o%d" % i}, "address": {"M": {"street": {"S": "%d Main St" % i},
                                                                 "city": {"S": "Oslo"}}}} for i in range(5)])
    s = run(table, "split-item.lua")
    assert s["changed"] == 5 and s["extras"] == 5, s
    after = by_pk(C.scan(table))
    assert len(after) == 10, after
    assert "address" not in after["o3"] and after["o3#ADDRESS"]["street"] == {"S": "3 Main St"}, after
    assert after["o3#ADDRESS"]["order"] == {"S": "o3"}


@case
def delete_cancelled(table):
    C.create(table, "pk")
    C.put_all(table, [{"pk": {"S": "o%d" % i}, "status": {"S": "CANCELLED" if i % 2 else "PAID"},
                       "createdAt": {"S": "2024-05-01" if i < 6 else "2025-05-01"}} for i in range(10)])
    s = run(table, "delete-cancelled.lua")
    assert s["deleted"] == 3, s
    left = by_pk(C.scan(table))
    assert sorted(left) == ["o0", "o2", "o4", "o6", "o7", "o8", "o9"], sorted(left)


@case
def fill_gsi_attribute(table):
    C.create(table, "pk")
    C.put_all(table, orders(12))
    s = run(table, "fill-gsi-attribute.lua")
    assert s["changed"] == 12, s
    for it in C.scan(table):
        assert it["gsi1pk"]["S"] == "CUSTOMER#" + it["customer"]["S"], it
        assert it["gsi1sk"]["S"] == "ORDER#" + it["createdAt"]["S"], it
    assert run(table, "fill-gsi-attribute.lua")["changed"] == 0


if failures:
    print("%d failed: %s" % (len(failures), ", ".join(failures)))
    sys.exit(1)
print("all examples passed")
