#!/usr/bin/env python3
"""Loopback fakes of the AWS endpoints that hand out credentials.

usage: fake_aws.py MODE [LOG]
Prints the port it listens on as its first line, then serves until killed.
Each request is appended to LOG as one JSON line (method, path, headers,
body) so that tests can check what was sent.

Modes:
  sts          STS AssumeRoleWithWebIdentity; token "bad-token" is refused
  container    container credentials; wants Authorization "container-auth-token"
  imds         EC2 metadata, IMDSv2; FAKE_EXPIRES_S sets credential lifetime
  imds-norole  EC2 metadata of an instance without a role
  imds-garbled, container-garbled, sts-garbled
               a 200 answer that is malformed but holds LEAKED_SECRET (and
               imds-badcode: a Code that is the secret)
  status:N     answers every request with HTTP N and a DynamoDB-style error
  ddb-throttle DynamoDB throttling with ThrottlingReasons
  ddb-badcrc   a 200 DynamoDB answer whose x-amz-crc32 does not match
  ddb-flaky    503 for the first two requests, then a 200 answer
"""
import datetime
import http.server
import json
import os
import sys
import threading
import urllib.parse
import zlib

MODE = sys.argv[1]
LOG = sys.argv[2] if len(sys.argv) > 2 else None
LOCK = threading.Lock()
IMDS_TOKEN = "imds-token-123"
# What the *-garbled modes hide in their answers: no message may show it.
LEAKED_SECRET = "wJalrLEAKEDxSECRETxKEY0123456789abcdefAB"
COUNTER = {"creds": 0}


def expires(seconds):
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=seconds)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def record(self, body):
        if not LOG:
            return
        entry = {"method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body.decode("utf-8", "replace")}
        with LOCK, open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.record(body)
        if MODE == "sts":
            return self.sts(body)
        if MODE == "container":
            return self.container()
        if MODE.endswith("-garbled") and not MODE.startswith("imds"):
            return self.garbled()
        if MODE.startswith("imds"):
            return self.imds()
        if MODE.startswith("ddb-"):
            return self.ddb()
        if MODE.startswith("status:"):
            code = int(MODE.split(":")[1])
            kind = "InternalServerError" if code >= 500 else "ValidationException"
            return self.reply(code, json.dumps({"__type": "com.amazonaws#" + kind,
                                                "message": "injected failure"}),
                              "application/x-amz-json-1.0")
        self.reply(500, "unknown mode")

    do_GET = do_POST = do_PUT = handle_any

    def ddb(self):
        with LOCK:
            COUNTER["creds"] += 1
            n = COUNTER["creds"]
        ctype = "application/x-amz-json-1.0"
        if MODE == "ddb-throttle":
            return self.reply(400, json.dumps({
                "__type": "com.amazonaws.dynamodb.v20120810#ThrottlingException",
                "message": "Throughput exceeds the current capacity for one or more global secondary indexes.",
                "ThrottlingReasons": [{"reason": "IndexWriteKeyRangeThroughputExceeded",
                                       "resource": "arn:aws:dynamodb:us-east-1:1:table/orders/index/byUser"}]}),
                ctype)
        body = b'{"Table":{"TableName":"orders"}}'
        crc = zlib.crc32(body)
        if MODE == "ddb-badcrc":
            crc ^= 1
        if MODE == "ddb-flaky" and n <= 2:
            return self.reply(503, json.dumps({"__type": "com.amazonaws.dynamodb#ServiceUnavailable",
                                               "message": "try again"}), ctype)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amz-crc32", str(crc))
        self.send_header("x-amzn-RequestId", "REQ%d" % n)
        self.end_headers()
        self.wfile.write(body)

    def sts(self, body):
        form = urllib.parse.parse_qs(body.decode())
        if form.get("Action") != ["AssumeRoleWithWebIdentity"] or "RoleArn" not in form:
            return self.reply(400, "<ErrorResponse><Error><Code>InvalidAction</Code>"
                              "<Message>bad request</Message></Error></ErrorResponse>", "text/xml")
        if form.get("WebIdentityToken") == ["bad-token"]:
            return self.reply(403, "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code>"
                              "<Message>Not authorized to perform sts:AssumeRoleWithWebIdentity</Message>"
                              "</Error><RequestId>r-1</RequestId></ErrorResponse>", "text/xml")
        xml = ("<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
               "<AccessKeyId>ASIAWEBIDENTITY</AccessKeyId><SecretAccessKey>webid-secret</SecretAccessKey>"
               "<SessionToken>webid-session&amp;token</SessionToken>"
               "<Expiration>%s</Expiration></Credentials></AssumeRoleWithWebIdentityResult>"
               "</AssumeRoleWithWebIdentityResponse>" % expires(3600))
        self.reply(200, xml, "text/xml")

    def garbled(self):
        if MODE == "sts-garbled":
            return self.reply(200, "<AssumeRoleWithWebIdentityResponse><Credentials><AccessKeyId>ASIALEAK"
                              "</AccessKeyId><SecretAccessKey>%s</SecretAccessKey>" % LEAKED_SECRET, "text/xml")
        # Not JSON: a bare token where a string belongs.
        self.reply(200, '{"AccessKeyId": "ASIALEAK", "SecretAccessKey": %s}' % LEAKED_SECRET)

    def container(self):
        if self.headers.get("Authorization") != "container-auth-token":
            return self.reply(403, json.dumps({"message": "wrong authorization token"}))
        self.reply(200, json.dumps({"AccessKeyId": "ASIACONTAINER", "SecretAccessKey": "container-secret",
                                    "Token": "container-session-token", "Expiration": expires(3600)}))

    def imds(self):
        if self.command == "PUT" and self.path == "/latest/api/token":
            if not self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
                return self.reply(400, "missing ttl", "text/plain")
            return self.reply(200, IMDS_TOKEN, "text/plain")
        if self.headers.get("X-aws-ec2-metadata-token") != IMDS_TOKEN:
            return self.reply(401, "", "text/plain")
        base = "/latest/meta-data/iam/security-credentials/"
        if self.path == base:
            if MODE == "imds-norole":
                return self.reply(404, "", "text/plain")
            return self.reply(200, "ddbmig-role\n", "text/plain")
        if self.path == base + "ddbmig-role":
            with LOCK:
                COUNTER["creds"] += 1
                n = COUNTER["creds"]
            if MODE == "imds-garbled":
                return self.reply(200, '{"Code": "Success", "SecretAccessKey": %s' % LEAKED_SECRET)
            if MODE == "imds-badcode":
                return self.reply(200, json.dumps({"Code": LEAKED_SECRET, "AccessKeyId": "ASIALEAK",
                                                   "SecretAccessKey": LEAKED_SECRET}))
            life = int(os.environ.get("FAKE_EXPIRES_S", "3600"))
            return self.reply(200, json.dumps({
                "Code": "Success", "Type": "AWS-HMAC", "AccessKeyId": "ASIAIMDS%d" % n,
                "SecretAccessKey": "imds-secret", "Token": "imds-session-token",
                "Expiration": expires(life)}))
        self.reply(404, "", "text/plain")


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
