#!/usr/bin/env python3
"""`ddbmig import` against DynamoDB Local, checked through an independent
client (tools/ddb.py): bad input writes nothing, edge cases of the file
format, repeated keys, a failure half way, and the item checker's verdicts
next to DynamoDB Local's own.

usage: test_import.py DDBMIG TESTS_DIR ENDPOINT CASE
"""
import gzip
import http.client
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import zlib

TESTS = sys.argv[2]
sys.path.insert(0, os.path.join(TESTS, "tools"))
import ddb  # noqa: E402

DDBMIG, ENDPOINT, CASE = sys.argv[1], sys.argv[3], sys.argv[4]
C = ddb.Client(ENDPOINT)
WORK = tempfile.mkdtemp()
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret",
           AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1")
TABLE = "imp_%s_%d" % (CASE, os.getpid())


def ddbmig(*args, endpoint=ENDPOINT, expect=None):
    cmd = [DDBMIG] + list(args) + ["--endpoint-url", endpoint]
    p = subprocess.run(cmd, cwd=WORK, env=ENV, capture_output=True, text=True, timeout=600)
    if expect is not None and p.returncode != expect:
        raise AssertionError("%s exited %d, expected %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), p.returncode, expect, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def write(name, data):
    path = os.path.join(WORK, name)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())
    return path


def lines(items):
    return "".join(json.dumps(it) + "\n" for it in items)


def item(pk, sk=1, **attrs):
    it = {"pk": {"S": pk}, "sk": {"N": str(sk)}}
    it.update(attrs)
    return it


def good(n, prefix="k"):
    return [item("%s%05d" % (prefix, i), i, pad={"S": "x" * 40}) for i in range(n)]


def create_table():
    """pk (S) and sk (N), a global index on g (S) and gs (B), a local index
    on l (N)."""
    C.call("CreateTable", {
        "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in
                                 (("pk", "S"), ("sk", "N"), ("g", "S"), ("gs", "B"), ("l", "N"))],
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "GlobalSecondaryIndexes": [{"IndexName": "by_g", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                    "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                  {"AttributeName": "gs", "KeyType": "RANGE"}]}],
        "LocalSecondaryIndexes": [{"IndexName": "by_l", "Projection": {"ProjectionType": "KEYS_ONLY"},
                                   "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                 {"AttributeName": "l", "KeyType": "RANGE"}]}]})
    C.wait(TABLE)


def nested(levels, inner):
    v = inner
    for _ in range(levels):
        v = {"M": {"x": v}}
    return v


def refused(name, text, *wants, code=2):
    """Imports a bad file: the exit code, every wanted text in stderr, and
    not one item in the table."""
    path = write(name, text)
    p = ddbmig("import", "--table-name", TABLE, "--file", path, expect=code)
    for want in wants:
        assert want in p.stderr, "%s: %r not in stderr:\n%s" % (name, want, p.stderr)
    assert "secret" not in p.stderr and "secret" not in p.stdout
    assert C.scan(TABLE) == [], "%s: a refused import wrote items" % name
    return p


def case_bad():
    """Each kind of bad input: a message naming file, line, attribute and
    rule; exit 2; the table still empty."""
    create_table()
    ok = lines(good(30))
    refused("json.jsonl", ok + '{"pk": {"S": "a"}, "sk": {"N": "1"},}\n',
            "json.jsonl:31: invalid DynamoDB JSON item at byte 36: expected a string")
    refused("plain.jsonl", ok + json.dumps({"pk": "a", "sk": 1}) + "\n",
            "plain.jsonl:31: attribute pk: expected an attribute value")
    refused("missing.jsonl", ok + json.dumps({"pk": {"S": "a"}}) + "\n",
            "missing.jsonl:31: attribute sk: missing; it is the table's sort key (N)")
    refused("type.jsonl", json.dumps({"pk": {"N": "1"}, "sk": {"N": "1"}}) + "\n" + ok,
            "type.jsonl:1: attribute pk: type N, but it is the table's partition key of type S")
    refused("emptykey.jsonl", ok + json.dumps(item("")) + "\n", "emptykey.jsonl:31: attribute pk: empty")
    refused("longkey.jsonl", ok + json.dumps(item("k" * 2049)) + "\n",
            "longkey.jsonl:31: attribute pk: 2049 bytes; the table's partition key value has at most 2048 bytes")
    refused("gsi.jsonl", ok + json.dumps(item("a", g={"N": "1"})) + "\n",
            "gsi.jsonl:31: attribute g: type N, but it is a secondary index's partition key of type S")
    refused("lsi.jsonl", ok + json.dumps(item("a", l={"S": "1"})) + "\n",
            "lsi.jsonl:31: attribute l: type S, but it is a secondary index's sort key of type N")
    refused("set.jsonl", ok + json.dumps(item("a", tags={"L": [{"S": "0"}, {"S": "1"}, {"S": "2"}, {
        "M": {"colors": {"NS": ["1", "2", "1.0"]}}}]})) + "\n",
            "set.jsonl:31: attribute tags[3].colors: members [0] and [2] are the same number")
    refused("emptyset.jsonl", ok + json.dumps(item("a", s={"SS": []})) + "\n",
            "emptyset.jsonl:31: attribute s: empty set")
    refused("deep.jsonl", ok + json.dumps(item("a", d=nested(31, {"L": []}))) + "\n",
            "deep.jsonl:31: attribute d.x.x.x.x", ": a list on level 32, counting the attribute as level 1")
    refused("number.jsonl", ok + json.dumps(item("a", n={"N": "1" * 39})) + "\n",
            "number.jsonl:31: attribute n: more than 38 significant digits")
    refused("name.jsonl", ok + json.dumps(item("a", m={"M": {"": {"S": "v"}}})) + "\n",
            "name.jsonl:31: attribute m.\"\": empty attribute name")
    refused("twice.jsonl", ok + '{"pk":{"S":"a"},"sk":{"N":"1"},"pk":{"S":"b"}}\n',
            "twice.jsonl:31: attribute pk: the name appears twice in the same item")
    refused("size.jsonl", ok + json.dumps(item("a", blob={"S": "b" * (400 * 1024)})) + "\n",
            "size.jsonl:31: the item is 409611 bytes as DynamoDB counts them; the limit is 400 KB")
    refused("trailing.jsonl", ok + json.dumps(item("a")) + " {}\n", "trailing.jsonl:31: text after the item")
    refused("long.jsonl", ok + "{\"pk\":{\"S\":\"" + "a" * (9 << 20) + "\"}}\n" + ok,
            "long.jsonl:31: the line is longer than 8388608 bytes")
    # Bad lines far apart: the first five are listed, then the check stops.
    many = "".join(ok + "{}\n" for _ in range(7))
    p = refused("many.jsonl", many, "many.jsonl:31: attribute pk: missing", "many.jsonl:62:", "many.jsonl:155:",
                "many.jsonl: checking stopped at line 155 after 5 problems; nothing was written")
    assert "many.jsonl:186" not in p.stderr, p.stderr
    p = refused("three.jsonl", "{}\n" + ok + "[]\n" + ok + "{}", "three.jsonl:1:", "three.jsonl:32:",
                "three.jsonl:63:", "three.jsonl: 3 problems found; nothing was written")
    # A bad line after many good ones: still nothing written.
    big = lines(good(3000)) + json.dumps(item("z", s={"SS": ["a", "a"]})) + "\n"
    refused("late.jsonl", big, "late.jsonl:3001: attribute s: members [0] and [1] are the same")
    # gzip: truncated, corrupt, other bytes after it, a .gz name without gzip.
    gz = gzip.compress(lines(good(2000)).encode())
    refused("cut.jsonl.gz", gz[:-4], "cut.jsonl.gz: the gzip data is truncated")
    refused("half.jsonl.gz", gz[:len(gz) // 2], "half.jsonl.gz: the gzip data is truncated")
    crc = bytearray(gz)
    crc[-8] ^= 0xFF
    refused("crc.jsonl.gz", bytes(crc), "crc.jsonl.gz: the gzip data is corrupt: its CRC does not match the data")
    refused("tail.jsonl.gz", gz + b"\n", "tail.jsonl.gz: unexpected bytes after the end of the gzip data")
    refused("fake.jsonl.gz", ok, "fake.jsonl.gz: the name ends in .gz but the file is not gzip data")
    # No file, no table.
    p = ddbmig("import", "--table-name", TABLE, "--file", os.path.join(WORK, "nope.jsonl"), expect=2)
    assert "cannot open" in p.stderr and "nope.jsonl" in p.stderr, p.stderr
    p = ddbmig("import", "--table-name", TABLE + "_missing", "--file", write("ok.jsonl", ok), expect=2)
    assert "non-existent table" in p.stderr or "not found" in p.stderr, p.stderr
    assert C.scan(TABLE) == []


def case_edges():
    """The file format's edge cases, as docs/CLI.md describes them."""
    create_table()
    # An empty file imports nothing (an export of an empty table is one).
    p = ddbmig("import", "--table-name", TABLE, "--file", write("empty.jsonl", ""), expect=0)
    assert "Imported 0 items" in p.stdout, p.stdout
    # Blank lines, CRLF, no final newline, a byte order mark.
    text = ("\ufeff" + json.dumps(item("a")) + "\r\n\r\n   \n" + json.dumps(item("b")) + "\n\n"
            + json.dumps(item("c")))
    p = ddbmig("import", "--table-name", TABLE, "--file", write("edges.jsonl", text), "--output", "json", expect=0)
    s = json.loads(p.stdout)
    assert s["items"] == 3 and s["file_items"] == 3 and s["status"] == "done", s
    assert sorted(it["pk"]["S"] for it in C.scan(TABLE)) == ["a", "b", "c"]
    # A line of far more than 400 KB whose item is under 400 KB as DynamoDB
    # counts it (escapes and base64 take more text than bytes).
    esc = "\u0001" * (100 * 1024)
    blob = {"B": __import__("base64").b64encode(b"\xff" * (250 * 1024)).decode()}
    line = json.dumps(item("wide", s={"S": esc}, b=blob))
    assert len(line) > 900 * 1024, len(line)
    ddbmig("import", "--table-name", TABLE, "--file", write("wide.jsonl", line + "\n"), expect=0)
    got = C.get(TABLE, {"pk": {"S": "wide"}, "sk": {"N": "1"}})
    assert got["s"]["S"] == esc and got["b"] == blob
    # Empty strings and binary outside keys, numbers with every digit.
    odd = item("odd", e={"S": ""}, eb={"B": ""}, ss={"SS": ["", "x"]}, n={"N": "-1234567890.1234567890123456789012345678"})
    ddbmig("import", "--table-name", TABLE, "--file", write("odd.jsonl", json.dumps(odd) + "\n"), expect=0)
    assert C.get(TABLE, {"pk": {"S": "odd"}, "sk": {"N": "1"}}) == odd
    # --dry-run checks and writes nothing.
    p = ddbmig("import", "--table-name", TABLE, "--file", write("dry.jsonl", lines(good(10, "dry"))), "--dry-run",
               expect=0)
    assert "Checked 10 items" in p.stdout and "nothing was written" in p.stdout, p.stdout
    assert not [it for it in C.scan(TABLE) if it["pk"]["S"].startswith("dry")]
    # Export and import round trip, gzip both ways.
    src = good(1500, "rt")
    ddbmig("import", "--table-name", TABLE, "--file", write("rt.jsonl.gz", gzip.compress(lines(src).encode())),
           expect=0)
    before = sorted(json.dumps(it, sort_keys=True) for it in C.scan(TABLE))
    out = os.path.join(WORK, "all.jsonl.gz")
    ddbmig("export", "--table-name", TABLE, "--file", out, expect=0)
    copy = TABLE + "_copy"
    C.call("CreateTable", {"TableName": copy, "BillingMode": "PAY_PER_REQUEST",
                           "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                    {"AttributeName": "sk", "AttributeType": "N"}],
                           "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                         {"AttributeName": "sk", "KeyType": "RANGE"}]})
    C.wait(copy)
    try:
        p = ddbmig("import", "--table-name", copy, "--file", out, expect=0)
        assert "Imported %d items" % len(before) in p.stdout, p.stdout
        assert sorted(json.dumps(it, sort_keys=True) for it in C.scan(copy)) == before
    finally:
        C.delete(copy)


def case_dups():
    """A key repeated in the file, near (same batch) and far apart, with
    numbers written differently: the last line wins, through partial
    batches and throttling too."""
    create_table()
    rows = []
    for i in range(600):
        rows.append(item("k%03d" % (i % 150), 1, v={"N": str(i)}))       # every key 4 times, far apart
    rows += [item("near", 1, v={"N": "1"}), item("near", 1.0, v={"N": "2"}), item("near", "1E0", v={"N": "3"})]
    path = write("dups.jsonl", lines(rows))
    proxy = start_proxy("--seed", "3", "--partial-batch", "0.5", "--throttle", "0.05")
    try:
        p = ddbmig("import", "--table-name", TABLE, "--file", path, "--max-attempts", "30", "--in-flight", "8",
                   "--output", "json", endpoint=proxy[1], expect=0)
        s = json.loads(p.stdout)
        assert s["file_items"] == 603 and s["items"] == 603, s
        stats = json.loads(__import__("urllib.request").request.urlopen(proxy[1] + "/__stats").read())
        assert stats["partial_batch"] > 0, stats
    finally:
        proxy[0].terminate()
        proxy[0].wait()
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    assert len(got) == 151, len(got)
    for k in range(150):
        assert got["k%03d" % k]["v"]["N"] == str(450 + k), got["k%03d" % k]
    assert got["near"]["v"]["N"] == "3", got["near"]


def start_proxy(*faults):
    p = subprocess.Popen([sys.executable, os.path.join(TESTS, "fakes", "fault_proxy.py"), ENDPOINT] + list(faults),
                         stdout=subprocess.PIPE, text=True)
    return p, "http://127.0.0.1:%d" % int(p.stdout.readline())


class FailAfter(http.server.BaseHTTPRequestHandler):
    """Forwards to DynamoDB Local until `allowed` BatchWriteItem calls have
    passed, then answers every call with InternalServerError."""
    protocol_version = "HTTP/1.1"
    allowed = 0
    lock = threading.Lock()

    def log_message(self, *a):
        pass

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        op = self.headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        with FailAfter.lock:
            ok = op != "BatchWriteItem" or FailAfter.allowed > 0
            if op == "BatchWriteItem" and ok:
                FailAfter.allowed -= 1
        if ok:
            host, port = ENDPOINT.split("//")[1].split(":")
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            conn.request("POST", "/", body=body, headers={k: v for k, v in self.headers.items() if k.lower() in (
                "x-amz-target", "content-type", "authorization", "x-amz-date")})
            r = conn.getresponse()
            status, data = r.status, r.read()
            conn.close()
        else:
            status, data = 500, json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#InternalServerError",
                                            "message": "injected failure"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amz-crc32", str(zlib.crc32(data)))
        self.end_headers()
        self.wfile.write(data)


def case_halfway():
    """DynamoDB fails for good part way: exit 4, the message says how many
    items were written and that running again is safe; running again
    completes the table."""
    create_table()
    items = good(2000)
    path = write("half.jsonl", lines(items))
    FailAfter.allowed = 20
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FailAfter)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d" % server.server_address[1]
    try:
        p = ddbmig("import", "--table-name", TABLE, "--file", path, "--max-attempts", "2", "--in-flight", "4",
                   endpoint=url, expect=4)
        p2 = ddbmig("import", "--table-name", TABLE, "--file", path, "--max-attempts", "2", "--output", "json",
                    endpoint=url, expect=4)
    finally:
        server.shutdown()
    assert "InternalServerError" in p.stderr, p.stderr
    written = len(C.scan(TABLE))
    assert 0 < written < 2000, written
    want = "%d of the file's 2000 items were written before the failure; puts are idempotent, so the same " \
           "import can be run again" % written
    assert want in p.stderr, (want, p.stderr)
    s = json.loads(p2.stdout)
    assert s["status"] == "failed" and s["items"] == 0 and s["file_items"] == 2000 and "error" in s, s
    ddbmig("import", "--table-name", TABLE, "--file", path, expect=0)
    assert sorted(json.dumps(it, sort_keys=True) for it in C.scan(TABLE)) == \
        sorted(json.dumps(it, sort_keys=True) for it in items)


def case_rules():
    """The checker's verdict on each item is DynamoDB Local's: `import
    --dry-run` accepts exactly what PutItem accepts."""
    create_table()
    cases = {
        "plain": item("a"),
        "missing sort key": {"pk": {"S": "a"}},
        "wrong key type": {"pk": {"B": "YQ=="}, "sk": {"N": "1"}},
        "empty partition key": item(""),
        "partition key 2048": item("p" * 2048),
        "partition key 2049": item("p" * 2049),
        "gsi key wrong type": item("a", g={"B": "YQ=="}),
        "gsi key empty": item("a", g={"S": ""}),
        "gsi sort key empty binary": item("a", g={"S": "x"}, gs={"B": ""}),
        "lsi key wrong type": item("a", l={"S": "x"}),
        "lsi key ok": item("a", l={"N": "5"}),
        "empty string": item("a", s={"S": ""}),
        "empty in sets": item("a", ss={"SS": ["", "x"]}, bs={"BS": ["", "YQ=="]}),
        "duplicate strings": item("a", ss={"SS": ["x", "x"]}),
        "duplicate numbers": item("a", ns={"NS": ["1", "1.0"]}),
        "duplicate numbers by exponent": item("a", ns={"NS": ["10", "1E1"]}),
        "distinct numbers": item("a", ns={"NS": ["1", "-1", "0.1", "10"]}),
        "duplicate binary": item("a", bs={"BS": ["YQ==", "YQ=="]}),
        "level 32 scalar": item("a", d=nested(31, {"S": "x"})),
        "level 32 set": item("a", d=nested(31, {"NS": ["1"]})),
        "level 32 empty map": item("a", d=nested(31, {"M": {}})),
        "level 33 scalar": item("a", d=nested(32, {"S": "x"})),
        "empty nested name": item("a", m={"M": {"": {"S": "x"}}}),
        "name 65535": item("a", **{"n" * 65535: {"S": "x"}}),
        "name 65536": item("a", **{"n" * 65536: {"S": "x"}}),
        "38 digits": item("a", n={"N": "1" * 38}),
        "39 digits": item("a", n={"N": "1" * 39}),
        "too large": item("a", n={"N": "1E126"}),
        "largest": item("a", n={"N": "9.9999999999999999999999999999999999999E+125"}),
        "too small": item("a", n={"N": "1E-131"}),
        "smallest": item("a", n={"N": "1E-130"}),
        "400 KB": item("a", x={"S": "s" * (400 * 1024 - 8)}),
        "400 KB and a byte": item("a", x={"S": "s" * (400 * 1024 - 7)}),
    }
    wrong = []
    for name, it in cases.items():
        path = write("rule.jsonl", json.dumps(it) + "\n")
        ours = ddbmig("import", "--table-name", TABLE, "--file", path, "--dry-run").returncode
        try:
            C.put(TABLE, it)
            theirs = 0
        except RuntimeError as e:
            assert "ValidationException" in str(e), str(e)[:300]
            theirs = 2
        if ours != theirs:
            wrong.append("%s: ddbmig %d, DynamoDB Local %s" % (name, ours, "accepts" if theirs == 0 else "refuses"))
    assert not wrong, "\n".join(wrong)
    print("%d items, the same verdicts" % len(cases))


def main():
    C.delete(TABLE)
    try:
        globals()["case_" + CASE]()
    finally:
        C.delete(TABLE)
        shutil.rmtree(WORK, ignore_errors=True)
    print("passed: " + CASE)


if __name__ == "__main__":
    main()
