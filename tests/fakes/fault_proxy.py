#!/usr/bin/env python3
"""A fault-injecting HTTP proxy between ddbmig and DynamoDB Local.

usage: fault_proxy.py UPSTREAM [--seed N] [--throttle P] [--e500 P] [--e503 P]
                      [--drop P] [--drop-after P] [--delay P:MS] [--partial-batch P]
                      [--stall OP]...
Prints its port as the first line. Probabilities are per request:
  throttle       answer ThrottlingException (400) without forwarding
  e500, e503     answer 500 InternalServerError / 503 ServiceUnavailable
  drop           close the connection without an answer, not forwarded
  drop-after     forward, then close the connection without the answer
                 (the write happened; the client cannot know)
  delay          wait MS before forwarding
  partial-batch  forward only part of a BatchWriteItem and return the rest
                 as UnprocessedItems
  stall          never answer requests of operation OP (counted as
                 "stall" once each has arrived), as an endpoint that hangs
GET /__stats answers the counts of each injected fault as JSON.
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
         "partial_batch": 0, "stall": 0}
RNG = random.Random()
LOCAL = threading.local()


def chance(p):
    with LOCK:
        return RNG.random() < p


def count(name):
    with LOCK:
        STATS[name] += 1


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
            self.answer(200, json.dumps(STATS), "application/json")

    def error(self, status, kind, msg):
        self.answer(status, json.dumps({"__type": "com.amazonaws.dynamodb.v20120810#" + kind, "message": msg}))

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = self.headers.get("X-Amz-Target", "")
        op = target.rsplit(".", 1)[-1]
        count("requests")
        if op in ARGS.stall:
            count("stall")
            time.sleep(3600)
            return self.drop()
        if chance(ARGS.throttle):
            count("throttle")
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
        if ARGS.delay_p and chance(ARGS.delay_p):
            count("delay")
            time.sleep(ARGS.delay_ms / 1000.0)
        held = None
        if op == "BatchWriteItem" and chance(ARGS.partial_batch):
            doc = json.loads(body)
            table, reqs = next(iter(doc["RequestItems"].items()))
            if len(reqs) > 1:
                count("partial_batch")
                keep = len(reqs) // 2
                held = (table, reqs[keep:])
                doc["RequestItems"][table] = reqs[:keep]
                body = json.dumps(doc).encode()
        headers = {k: v for k, v in self.headers.items() if k.lower() in (
            "x-amz-target", "content-type", "authorization", "x-amz-date", "x-amz-security-token")}
        status, ctype, data = forward(headers, body)
        if held and status == 200:
            doc = json.loads(data)
            un = doc.setdefault("UnprocessedItems", {})
            un.setdefault(held[0], []).extend(held[1])
            data = json.dumps(doc).encode()
        if op != "Scan" and chance(ARGS.drop_after):
            count("drop_after")
            return self.drop()
        self.answer(status, data, ctype)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # clients see dropped connections on purpose; no tracebacks


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("upstream")
    p.add_argument("--seed", type=int, default=1)
    for name in ("throttle", "e500", "e503", "drop", "drop-after", "partial-batch"):
        p.add_argument("--" + name, type=float, default=0.0)
    p.add_argument("--delay", default="0:0")
    p.add_argument("--stall", action="append", default=[])
    ARGS = p.parse_args()
    ARGS.delay_p, ARGS.delay_ms = (float(x) for x in ARGS.delay.split(":"))
    RNG.seed(ARGS.seed)
    server = Server(("127.0.0.1", 0), Proxy)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
