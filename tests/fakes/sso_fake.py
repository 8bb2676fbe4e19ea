#!/usr/bin/env python3
"""Loopback fakes for the credential tests of IAM Identity Center and roles.

usage: sso_fake.py [LOG]                 the fake AWS endpoints below
       sso_fake.py proxy UPSTREAM LOG    a key-logging proxy (below)
Prints the port it listens on (127.0.0.1) as its first line, then serves
until killed.

The fake endpoints, all on one port (each request is appended to LOG as one
JSON line: method, path, headers with lower-case names, body):
  POST /token                    SSO OIDC CreateToken (JSON). grantType
                                 refresh_token with clientId CLIENT_ID,
                                 clientSecret CLIENT_SECRET and refreshToken
                                 REFRESH_TOKEN (or one it handed out) gives a
                                 new accessToken "sso-access-token-refreshed-N",
                                 expiresIn 28800 and a new refreshToken;
                                 anything else: 400 invalid_grant.
  GET /federation/credentials    SSO GetRoleCredentials: the
                                 x-amz-sso_bearer_token must be VALID_TOKEN or
                                 a refreshed one (else 401 Unauthorized);
                                 role_name "Forbidden" gives 403.
                                 roleCredentials: ASIASSO<N>,
                                 sso-role-secret-<N>, sso-role-session-<N>,
                                 expiring in an hour (ms since the epoch).
  POST /  Action=AssumeRoleWithWebIdentity
                                 answers ASIAWEB<N>, web-secret-<N>,
                                 web-session-<N> (any token).
  POST /  Action=AssumeRole      STS AssumeRole for unit tests: needs a SigV4
                                 Authorization header; with SerialNumber it
                                 needs TokenCode 123456 (else 403
                                 AccessDenied). Answers ASIAROLE<N>,
                                 role-secret-<N>, role-session-<N>, expiring
                                 FAKE_EXPIRES_S seconds (default 3600) after
                                 now.

proxy: forwards every request to UPSTREAM (DynamoDB Local, which checks no
signature) and its answer back unchanged, and appends to LOG one line per
request: the access key id of its Authorization header and its X-Amz-Target,
so that a test can show which credentials reached the service.
"""
import datetime
import http.client
import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

VALID_TOKEN = "sso-access-token-valid"
CLIENT_ID = "sso-client-id"
CLIENT_SECRET = "sso-client-secret-value"
REFRESH_TOKEN = "sso-refresh-token-good"

LOCK = threading.Lock()
STATE = {"n": 0, "access": {VALID_TOKEN}, "refresh": {REFRESH_TOKEN}}


def next_n():
    with LOCK:
        STATE["n"] += 1
        return STATE["n"]


class Fake(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/json", headers=()):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def record(self, body):
        if not self.log_path:
            return
        entry = {"method": self.command, "path": self.path,
                 "headers": {k.lower(): v for k, v in self.headers.items()},
                 "body": body.decode("utf-8", "replace")}
        with LOCK, open(self.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.record(body)
        path = urllib.parse.urlsplit(self.path).path
        if self.command == "POST" and path == "/token":
            return self.create_token(body)
        if self.command == "GET" and path == "/federation/credentials":
            return self.role_credentials()
        if self.command == "POST" and path == "/":
            return self.assume_role(body)
        self.reply(404, json.dumps({"message": "no such path"}))

    do_GET = do_POST = do_PUT = handle_any

    def create_token(self, body):
        try:
            req = json.loads(body)
        except ValueError:
            req = {}
        with LOCK:
            ok = (req.get("grantType") == "refresh_token" and req.get("clientId") == CLIENT_ID
                  and req.get("clientSecret") == CLIENT_SECRET and req.get("refreshToken") in STATE["refresh"])
        if not ok:
            return self.reply(400, json.dumps({"error": "invalid_grant",
                                               "error_description": "Invalid refresh token provided"}))
        n = next_n()
        access, refresh = "sso-access-token-refreshed-%d" % n, "sso-refresh-token-rotated-%d" % n
        with LOCK:
            STATE["access"].add(access)
            STATE["refresh"].add(refresh)
        self.reply(200, json.dumps({"accessToken": access, "expiresIn": 28800, "refreshToken": refresh,
                                    "tokenType": "Bearer"}))

    def role_credentials(self):
        q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        token = self.headers.get("x-amz-sso_bearer_token")
        with LOCK:
            known = token in STATE["access"]
        if not known:
            return self.reply(401, json.dumps({"message": "Session token not found or invalid"}),
                              headers=[("x-amzn-ErrorType", "UnauthorizedException")])
        if "role_name" not in q or "account_id" not in q:
            return self.reply(400, json.dumps({"message": "role_name and account_id are required"}))
        if q["role_name"] == ["Forbidden"]:
            return self.reply(403, json.dumps({"message": "No access"}),
                              headers=[("x-amzn-ErrorType", "ForbiddenException")])
        n = next_n()
        self.reply(200, json.dumps({"roleCredentials": {
            "accessKeyId": "ASIASSO%d" % n, "secretAccessKey": "sso-role-secret-%d" % n,
            "sessionToken": "sso-role-session-%d" % n, "expiration": int((time.time() + 3600) * 1000)}}))

    def assume_role(self, body):
        form = urllib.parse.parse_qs(body.decode())
        auth = self.headers.get("Authorization") or ""
        if form.get("Action") == ["AssumeRoleWithWebIdentity"] and "WebIdentityToken" in form:
            return self.web_identity(form)
        if form.get("Action") != ["AssumeRole"] or "RoleArn" not in form or "RoleSessionName" not in form:
            return self.sts_error(400, "InvalidAction", "bad request")
        if not auth.startswith("AWS4-HMAC-SHA256 Credential="):
            return self.sts_error(403, "MissingAuthenticationToken", "Request is missing Authentication Token")
        if "SerialNumber" in form and form.get("TokenCode") != ["123456"]:
            return self.sts_error(403, "AccessDenied", "MultiFactorAuthentication failed with invalid MFA one time "
                                                       "pass code.")
        n = next_n()
        life = int(os.environ.get("FAKE_EXPIRES_S", "3600"))
        exp = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=life))
        role = form["RoleArn"][0]
        xml = ("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><AssumeRoleResult>"
               "<AssumedRoleUser><Arn>%s/%s</Arn><AssumedRoleId>AROA:%s</AssumedRoleId></AssumedRoleUser>"
               "<Credentials><AccessKeyId>ASIAROLE%d</AccessKeyId><SecretAccessKey>role-secret-%d</SecretAccessKey>"
               "<SessionToken>role-session-%d</SessionToken><Expiration>%s</Expiration></Credentials>"
               "</AssumeRoleResult><ResponseMetadata><RequestId>r-%d</RequestId></ResponseMetadata>"
               "</AssumeRoleResponse>" % (role.replace(":role/", ":assumed-role/"), form["RoleSessionName"][0],
                                          form["RoleSessionName"][0], n, n, n,
                                          exp.strftime("%Y-%m-%dT%H:%M:%SZ"), n))
        self.reply(200, xml, "text/xml")

    def web_identity(self, form):
        n = next_n()
        exp = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
        self.reply(200, "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult><Credentials>"
                        "<AccessKeyId>ASIAWEB%d</AccessKeyId><SecretAccessKey>web-secret-%d</SecretAccessKey>"
                        "<SessionToken>web-session-%d</SessionToken><Expiration>%s</Expiration></Credentials>"
                        "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>"
                        % (n, n, n, exp.strftime("%Y-%m-%dT%H:%M:%SZ")), "text/xml")

    def sts_error(self, status, code, msg):
        self.reply(status, "<ErrorResponse><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error>"
                           "<RequestId>r-0</RequestId></ErrorResponse>" % (code, msg), "text/xml")


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    upstream = None
    log_path = None

    def log_message(self, *args):
        pass

    def do_POST(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        auth = self.headers.get("Authorization") or ""
        key = auth.split("Credential=", 1)[1].split("/", 1)[0] if "Credential=" in auth else ""
        with LOCK, open(self.log_path, "a") as f:
            f.write(json.dumps({"key": key, "target": self.headers.get("X-Amz-Target", "")}) + "\n")
        u = urllib.parse.urlsplit(self.upstream)
        conn = http.client.HTTPConnection(u.hostname, u.port, timeout=60)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        conn.request("POST", self.path, body, headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("content-length", "connection", "transfer-encoding", "date", "server"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        conn.close()


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "proxy":
        Proxy.upstream, Proxy.log_path = sys.argv[2], sys.argv[3]
        handler = Proxy
    else:
        Fake.log_path = sys.argv[1] if len(sys.argv) > 1 and sys.argv[1] else None
        handler = Fake
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    print(srv.server_address[1], flush=True)
    srv.serve_forever()


if __name__ == "__main__":
    main()
