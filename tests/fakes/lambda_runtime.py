#!/usr/bin/env python3
"""A Lambda Runtime API emulator that runs a custom runtime's bootstrap.

usage: lambda_runtime.py [--log FILE] -- COMMAND [ARGS...]
Prints its port as the first line. Starts COMMAND with
AWS_LAMBDA_RUNTIME_API=127.0.0.1:PORT (and the rest of its own
environment), and starts it again whenever it exits, as Lambda does with
a runtime that died: the invocation it held fails with Runtime.ExitError.

Runtime API (version 2018-06-01), as Lambda serves it:
  GET  /2018-06-01/runtime/invocation/next      waits for an invocation;
       headers Lambda-Runtime-Aws-Request-Id, Lambda-Runtime-Deadline-Ms,
       Lambda-Runtime-Trace-Id, Lambda-Runtime-Invoked-Function-Arn
  POST /2018-06-01/runtime/invocation/ID/response
  POST /2018-06-01/runtime/invocation/ID/error   {"errorMessage","errorType"}
  POST /2018-06-01/runtime/init/error
An invocation still running one second past its deadline is ended the
way Lambda ends it: the runtime is killed, the invocation fails with
Sandbox.Timedout.

Control (for tests and harnesses):
  POST /__invoke {"event": ..., "timeout_ms": N}  invokes and waits; answers
       {"result": ...} or {"error": {"errorType", "errorMessage"}};
       optional "function_arn" (sent as Lambda-Runtime-Invoked-Function-Arn)
  POST /__kill    SIGKILLs the runtime now (it is started again)
  GET  /__state   init errors, invocations, runtime starts
"""
import http.server
import json
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid

LOCK = threading.Condition()
QUEUE = []          # invocations waiting for /next
INVOCATIONS = {}    # id -> {"event", "deadline", "done", "result", "error", "taken"}
STATE = {"init_errors": [], "starts": 0, "order": []}
PROC = {"p": None, "current": None}
PORT = 0
CMD = []
LOG = None


def log(entry):
    if LOG:
        with open(LOG, "a") as f:
            f.write(json.dumps(entry) + "\n")


def finish(inv_id, result=None, error=None):
    with LOCK:
        inv = INVOCATIONS.get(inv_id)
        if not inv or inv["done"]:
            return False
        inv.update(done=True, result=result, error=error)
        if PROC["current"] == inv_id:
            PROC["current"] = None
        LOCK.notify_all()
    log({"id": inv_id, "result": result, "error": error})
    return True


def die_with_parent():
    """In the child: SIGKILL me when the emulator dies (Linux), so a
    runtime never outlives its emulator."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def start_runtime():
    env = dict(os.environ, AWS_LAMBDA_RUNTIME_API="127.0.0.1:%d" % PORT)
    PROC["p"] = subprocess.Popen(CMD, env=env, preexec_fn=die_with_parent)
    STATE["starts"] += 1


def supervise():
    """Restarts the runtime when it exits; fails the invocation it held."""
    while True:
        p = PROC["p"]
        code = p.wait()
        with LOCK:
            held = PROC["current"]
        if held:
            finish(held, error={"errorType": "Runtime.ExitError",
                                "errorMessage": "the runtime exited (status %d) during the invocation" % code})
        time.sleep(0.2)
        start_runtime()


def watchdog():
    while True:
        time.sleep(0.2)
        with LOCK:
            held = PROC["current"]
            late = held and INVOCATIONS[held]["deadline"] + 1.0 < time.time()
        if late:
            finish(held, error={"errorType": "Sandbox.Timedout", "errorMessage": "Task timed out"})
            try:
                PROC["p"].kill()
            except OSError:
                pass


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, headers=None):
        data = json.dumps(body).encode() if not isinstance(body, bytes) else body
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def alive(self):
        """The runtime is still there: its idle connection has not closed."""
        r, _, _ = select.select([self.connection], [], [], 0)
        if not r:
            return True
        try:
            return self.connection.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False

    def body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        if self.path == "/2018-06-01/runtime/invocation/next":
            # A runtime killed while it waited here must not take the next
            # invocation with it: only a live connection gets one.
            while True:
                with LOCK:
                    if QUEUE and self.alive():
                        inv_id = QUEUE.pop(0)
                        inv = INVOCATIONS[inv_id]
                        inv["taken"] = True
                        PROC["current"] = inv_id
                        break
                    LOCK.wait(0.3)
                if not self.alive():
                    self.close_connection = True
                    return
            self.reply(200, json.dumps(inv["event"]).encode(), {
                "Lambda-Runtime-Aws-Request-Id": inv_id,
                "Lambda-Runtime-Deadline-Ms": str(int(inv["deadline"] * 1000)),
                "Lambda-Runtime-Trace-Id": "Root=1-%s;Parent=%s;Sampled=0" % (inv_id[:8], inv_id[-16:]),
                "Lambda-Runtime-Invoked-Function-Arn": inv.get("function_arn") or "arn:aws:lambda:us-east-1:123456789012:function:ddbmig"})
        elif self.path == "/__state":
            with LOCK:
                self.reply(200, {"init_errors": STATE["init_errors"], "starts": STATE["starts"],
                                 "invocations": [dict(INVOCATIONS[i], id=i) for i in STATE["order"]]})
        else:
            self.reply(404, {"message": "no such path"})

    def do_POST(self):
        body = self.body()
        parts = self.path.strip("/").split("/")
        if self.path == "/2018-06-01/runtime/init/error":
            err = json.loads(body or b"{}")
            STATE["init_errors"].append({"type": self.headers.get("Lambda-Runtime-Function-Error-Type"), "body": err})
            # Lambda fails the invocation waiting for a runtime that could not start.
            with LOCK:
                waiting = QUEUE.pop(0) if QUEUE else None
            if waiting:
                finish(waiting, error={"errorType": "Runtime.InitError", "errorMessage": err.get("errorMessage", "")})
            self.reply(202, {"status": "OK"})
        elif len(parts) == 5 and parts[:3] == ["2018-06-01", "runtime", "invocation"] and parts[4] in ("response", "error"):
            payload = json.loads(body or b"null")
            ok = finish(parts[3], result=payload) if parts[4] == "response" else finish(parts[3], error=payload)
            self.reply(202 if ok else 400, {"status": "OK" if ok else "InvalidRequestID"})
        elif self.path == "/__invoke":
            req = json.loads(body)
            inv_id = str(uuid.uuid4())
            with LOCK:
                INVOCATIONS[inv_id] = {"event": req["event"], "deadline": time.time() + req.get("timeout_ms", 900000) / 1000.0,
                                       "done": False, "result": None, "error": None, "taken": False,
                                       "function_arn": req.get("function_arn")}
                STATE["order"].append(inv_id)
                QUEUE.append(inv_id)
                LOCK.notify_all()
                while not INVOCATIONS[inv_id]["done"]:
                    LOCK.wait()
                inv = INVOCATIONS[inv_id]
            self.reply(200, {"id": inv_id, "result": inv["result"]} if inv["error"] is None else {"id": inv_id, "error": inv["error"]})
        elif self.path == "/__kill":
            try:
                PROC["p"].kill()
            except OSError:
                pass
            self.reply(200, {"killed": True})
        else:
            self.reply(404, {"message": "no such path"})


def main():
    global PORT, CMD, LOG
    args = sys.argv[1:]
    if "--log" in args:
        i = args.index("--log")
        LOG = args[i + 1]
        del args[i:i + 2]
    if not args or args[0] != "--":
        sys.exit(__doc__)
    CMD = args[1:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    PORT = server.server_address[1]
    print(PORT, flush=True)
    start_runtime()
    threading.Thread(target=supervise, daemon=True).start()
    threading.Thread(target=watchdog, daemon=True).start()

    def stop(*_):
        try:
            PROC["p"].kill()
        except OSError:
            pass
        os._exit(0)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    server.serve_forever()


if __name__ == "__main__":
    main()
