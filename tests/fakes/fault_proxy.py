#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between ddbmig and DynamoDB Local.

usage: fault_proxy.py UPSTREAM [--seed N] [--throttle P] [--e500 P] [--e503 P]
                      [--drop P] [--drop-after P] [--delay P:MS] [--partial-batch P]
                      [--write-capacity C] [--read-capacity C] [--burst-seconds S]
                      [--key-range-throttle P] [--stall OP]... [--deny OP]...
Prints its port as the first line. Probabilities are per request:
  throttle       answer ThrottlingException (400) without forwarding and
                 without ThrottlingReasons, whatever the rate (as another
                 client or the service now and then would)
  e500, e503     answer 500 InternalServerError / 503 ServiceUnavailable
  drop           close the connection without an answer, not forwarded
  drop-after     forward, then close the connection without the answer
                 (the write happened; the client cannot know)
  delay          wait MS before forwarding
  partial-batch  forward only part of a BatchWriteItem and return the rest
                 as UnprocessedItems
  stall          never answer requests of operation OP (counted as
                 "stall" once each has arrived), as an endpoint that hangs
  deny           answer AccessDeniedException to every request of operation
                 OP (counted as "deny"), as for a policy without its action
  key-range-throttle
                 answer ProvisionedThroughputExceededException with a
                 Table{Read,Write}KeyRangeThroughputExceeded reason, as for
                 a hot partition
Capacity mode makes the table behave as if provisioned with C units per
second: a token bucket per kind (read, write) refills at C a second and
holds S seconds of it (--burst-seconds, default 1; DynamoDB keeps up to
300). A request that finds its bucket empty is answered
ProvisionedThroughputExceededException with the ThrottlingReasons DynamoDB
sends (TableWriteProvisionedThroughputExceeded...); one that finds tokens is
forwarded and charged what the answer's ConsumedCapacity says (the proxy
asks for it when the request did not, and takes it out of the answer
again; DynamoDB Local does not check signatures), or 1 unit for an answer
without it (a failed conditional write is charged too).
GET /__stats answers the counts of each injected fault as JSON, the write
requests and how many of them were throttled (any kind), the units served,
and per second since the start: requests, read and write units served,
throttles (all kinds) and capacity throttles.
"""
import argparse
import http.client
import http.server
import json
import random
import socket
import threading
import time
import zlib

ARGS = None
LOCK = threading.Lock()
STATS = {"requests": 0, "throttle": 0, "e500": 0, "e503": 0, "drop": 0, "drop_after": 0, "delay": 0,
         "partial_batch": 0, "stall": 0, "deny": 0, "capacity_throttle": 0, "key_range_throttle": 0, "read_units": 0.0,
         "write_units": 0.0, "write_requests": 0, "write_throttled": 0}
PER_SECOND = {}
START = time.monotonic()
RNG = random.Random()
LOCAL = threading.local()
READS = {"GetItem", "BatchGetItem", "Query", "Scan", "TransactGetItems"}
# BatchExecuteStatement may read too; ddbmig sends it only to write.
WRITES = {"PutItem", "UpdateItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems", "BatchExecuteStatement"}
PREFIX = "com.amazonaws.dynamodb.v20120810#"


class Bucket:
    """Capacity units per second, holding `burst` seconds of them."""

    def __init__(self, rate, burst):
        self.rate, self.size = rate, rate * burst
        self.tokens, self.at = self.size, time.monotonic()

    def refill(self):
        now = time.monotonic()
        self.tokens = min(self.size, self.tokens + (now - self.at) * self.rate)
        self.at = now

    def admits(self):
        self.refill()
        return self.tokens > 0

    def charge(self, units):
        self.refill()
        self.tokens -= units


BUCKETS = {}


def chance(p):
    with LOCK:
        return RNG.random() < p


def second():
    s = int(time.monotonic() - START)
    return PER_SECOND.setdefault(s, {"requests": 0, "read_units": 0.0, "write_units": 0.0, "throttles": 0,
                                     "capacity_throttles": 0})


def count(name, kind=None, throttle=False):
    with LOCK:
        STATS[name] += 1
        if throttle:
            second()["throttles"] += 1
            if kind == "Write":
                STATS["write_throttled"] += 1


def upstream():
    conn = getattr(LOCAL, "conn", None)
    if conn is None:
        host, port = ARGS.upstream.split("//")[1].split(":")
        conn = LOCAL.conn = http.client.HTTPConnection(host, int(port), timeout=60)
    return conn


def forward(headers, body):
    for attempt in range(2):
        try:
            conn = upstream()
            conn.request("POST", "/", body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.getheader("Content-Type", "application/x-amz-json-1.0"), r.read()
        except (http.client.HTTPException, OSError):
            LOCAL.conn = None
            if attempt:
                raise


def table_of(doc):
    if isinstance(doc.get("TableName"), str):
        return doc["TableName"]
    for key in ("RequestItems", "TransactItems"):
        items = doc.get(key)
        if isinstance(items, dict) and items:
            return next(iter(items))
        if isinstance(items, list) and items:
            inner = next(iter(items[0].values()), {})
            return inner.get("TableName", "table")
    return "table"


def consumed_units(doc):
    """Capacity units in an answer's ConsumedCapacity (object or list)."""
    cc = doc.get("ConsumedCapacity") if isinstance(doc, dict) else None
    if isinstance(cc, dict):
        cc = [cc]
    if not isinstance(cc, list):
        return None
    return sum(float(c.get("CapacityUnits", 0)) for c in cc if isinstance(c, dict))


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body, ctype="application/x-amz-json-1.0"):
        data = body if isinstance(body, bytes) else body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amz-crc32", str(zlib.crc32(data)))
        self.end_headers()
        self.wfile.write(data)

    def drop(self):
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def do_GET(self):
        with LOCK:
            doc = dict(STATS)
            doc["per_second"] = [dict(v, second=k) for k, v in sorted(PER_SECOND.items())]
        self.answer(200, json.dumps(doc), "application/json")

    def error(self, status, kind, msg, reasons=None):
        doc = {"__type": PREFIX + kind, "message": msg}
        if reasons:
            doc["ThrottlingReasons"] = reasons
        self.answer(status, json.dumps(doc))

    def throttled(self, stat, kind, reason, table):
        """ProvisionedThroughputExceededException with one reason."""
        count(stat, kind, throttle=True)
        if stat == "capacity_throttle":
            with LOCK:
                second()["capacity_throttles"] += 1
        arn = "arn:aws:dynamodb:us-east-1:000000000000:table/" + table
        self.error(400, "ProvisionedThroughputExceededException",
                   "The level of configured provisioned throughput for the table was exceeded.",
                   [{"reason": reason, "resource": arn}])

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        op = target.rsplit(".", 1)[-1]
        kind = "Read" if op in READS else "Write" if op in WRITES else None
        with LOCK:
            STATS["requests"] += 1
            STATS["write_requests"] += kind == "Write"
            second()["requests"] += 1
        if op in ARGS.deny:
            count("deny")
            return self.error(400, "AccessDeniedException", "User: arn:aws:iam::000000000000:user/app is not "
                              "authorized to perform: dynamodb:%s because no identity-based policy allows it" % op)
        if op in ARGS.stall:
            count("stall")
            time.sleep(3600)
            return self.drop()
        if chance(ARGS.throttle):
            count("throttle", kind, throttle=True)
            return self.error(400, "ThrottlingException", "injected throttling")
        if chance(ARGS.e500):
            count("e500")
            return self.error(500, "InternalServerError", "injected failure")
        if chance(ARGS.e503):
            count("e503")
            return self.error(503, "ServiceUnavailable", "injected failure")
        if chance(ARGS.drop):
            count("drop")
            return self.drop()
        doc = None
        bucket = BUCKETS.get(kind)
        refused = []  # BatchExecuteStatement: (index, error) of statements throttled here
        if op == "BatchExecuteStatement" and ARGS.key_range_throttle:
            # DynamoDB throttles the statements of a hot partition one by
            # one, each with an Error of its own, the call itself succeeds.
            doc = json.loads(body)
            stmts = doc.get("Statements", [])
            keep = []
            for i, st in enumerate(stmts):
                if len(stmts) > 1 and chance(ARGS.key_range_throttle):
                    refused.append((i, {"Code": "ProvisionedThroughputExceeded",
                                        "Message": "Throughput exceeds the current capacity for one or more "
                                                   "partitions of your table"}))
                else:
                    keep.append(st)
            if refused and not keep:  # a call of no statement is invalid: the last goes through
                i, _ = refused.pop()
                keep.append(stmts[i])
            for _ in refused:
                count("key_range_throttle", kind, throttle=True)
            if refused:
                doc["Statements"] = keep
                body = json.dumps(doc).encode()
        elif kind and (bucket or ARGS.key_range_throttle):
            doc = json.loads(body)
            if ARGS.key_range_throttle and chance(ARGS.key_range_throttle):
                return self.throttled("key_range_throttle", kind, "Table%sKeyRangeThroughputExceeded" % kind,
                                      table_of(doc))
            if bucket:
                with LOCK:
                    admitted = bucket.admits()
                if not admitted:
                    return self.throttled("capacity_throttle", kind, "Table%sProvisionedThroughputExceeded" % kind,
                                          table_of(doc))
        if ARGS.delay_p and chance(ARGS.delay_p):
            count("delay")
            time.sleep(ARGS.delay_ms / 1000.0)
        held = None
        if op == "BatchWriteItem" and chance(ARGS.partial_batch):
            doc = doc or json.loads(body)
            table, reqs = next(iter(doc["RequestItems"].items()))
            if len(reqs) > 1:
                count("partial_batch")
                keep = len(reqs) // 2
                held = (table, reqs[keep:])
                doc["RequestItems"][table] = reqs[:keep]
                body = json.dumps(doc).encode()
        asked = True
        if bucket:
            doc = doc if doc is not None else json.loads(body)
            asked = doc.get("ReturnConsumedCapacity", "NONE") != "NONE"
            if not asked:
                doc["ReturnConsumedCapacity"] = "TOTAL"
                body = json.dumps(doc).encode()
        headers = {k: v for k, v in self.headers.items() if k.lower() in (
            "x-amz-target", "content-type", "authorization", "x-amz-date", "x-amz-security-token")}
        status, ctype, data = forward(headers, body)
        if refused and status == 200:
            answer = json.loads(data)
            for i, err in refused:
                answer["Responses"].insert(i, {"Error": err, "TableName": table_of(doc)})
            data = json.dumps(answer).encode()
        if kind and (bucket or held or not asked):
            answer = json.loads(data) if data else {}
            if bucket:
                units = consumed_units(answer)
                if units is None and op == "BatchExecuteStatement":
                    # DynamoDB Local reports no capacity for statements: a
                    # unit for each one carried out (the items here are small).
                    units = float(sum(1 for r in answer.get("Responses", []) if "Error" not in r)) or None
                with LOCK:
                    bucket.charge(units if units is not None else 1.0)
                    if units:
                        STATS[kind.lower() + "_units"] += units
                        second()[kind.lower() + "_units"] += units
                if not asked:
                    answer.pop("ConsumedCapacity", None)
            if held and status == 200:
                un = answer.setdefault("UnprocessedItems", {})
                un.setdefault(held[0], []).extend(held[1])
            data = json.dumps(answer).encode()
        if op != "Scan" and chance(ARGS.drop_after):
            count("drop_after")
            return self.drop()
        self.answer(status, data, ctype)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # Python's default backlog of 5 drops the SYNs of a client that opens
    # dozens of connections at once; each then waits a second for its
    # retransmission, which looks like the client's fault.
    request_queue_size = 1024

    def handle_error(self, request, client_address):
        pass  # clients see dropped connections on purpose; no tracebacks


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("upstream")
    p.add_argument("--seed", type=int, default=1)
    for name in ("throttle", "e500", "e503", "drop", "drop-after", "partial-batch", "key-range-throttle"):
        p.add_argument("--" + name, type=float, default=0.0)
    p.add_argument("--delay", default="0:0")
    p.add_argument("--stall", action="append", default=[])
    p.add_argument("--deny", action="append", default=[])
    p.add_argument("--write-capacity", type=float, default=0.0)
    p.add_argument("--read-capacity", type=float, default=0.0)
    p.add_argument("--burst-seconds", type=float, default=1.0)
    ARGS = p.parse_args()
    ARGS.delay_p, ARGS.delay_ms = (float(x) for x in ARGS.delay.split(":"))
    if ARGS.write_capacity > 0:
        BUCKETS["Write"] = Bucket(ARGS.write_capacity, ARGS.burst_seconds)
    if ARGS.read_capacity > 0:
        BUCKETS["Read"] = Bucket(ARGS.read_capacity, ARGS.burst_seconds)
    RNG.seed(ARGS.seed)
    server = Server(("127.0.0.1", 0), Proxy)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
