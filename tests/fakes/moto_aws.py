#!/usr/bin/env python3
"""moto's server, in-process and mended, with Lambda invocations run by real
custom runtimes.

usage: moto_aws.py --dynamodb-endpoint URL [--invoke-timeout-ms N]
                   [--max-runtimes N] [--kill-one-after-ms N] [--log FILE]
                   [--work-dir DIR]

Prints its port as the first line of standard output, serves moto (all
services) on 127.0.0.1:PORT until SIGTERM or SIGINT, then stops every
emulator and runtime it started. The config {"stepfunctions":
{"execute_state_machine": true}, "lambda": {"use_docker": false}} is set, so
Step Functions executions run in moto's interpreter.

Every Lambda Invoke (from the interpreter's `lambda:invoke` tasks or from a
client) runs the function's own `bootstrap` (from its deployment zip, kept
by moto or read from moto's S3) behind tests/fakes/lambda_runtime.py, one
emulator (one runtime) per concurrent invocation, at most --max-runtimes
(default 8) per function; more wait. The runtime's environment: the
function's Environment.Variables, the reserved Lambda variables (AWS_REGION,
AWS_LAMBDA_FUNCTION_NAME, ..., credentials "testing"),
AWS_ENDPOINT_URL_DYNAMODB = --dynamodb-endpoint and AWS_ENDPOINT_URL = this
moto. Its working directory is the unpacked code, read-only (a read-only bind
mount in a private mount namespace when run as root, else file modes); TMPDIR
and HOME are a writable directory per emulator. A function error answers
with X-Amz-Function-Error: Unhandled and the payload {"errorType",
"errorMessage"}, which the interpreter turns into an error named errorType
(Retry/Catch match it, as on AWS). Timeout: --invoke-timeout-ms, else the
function's Timeout.

--kill-one-after-ms N: once in the harness's life, N ms after the first
invocation of a segment event (one with a "segment" key) was taken by its
runtime, that runtime is killed (the invocation fails with
Runtime.ExitError). Should that invocation end before, the next segment
invocation is the one.
--log FILE: one JSON line per invocation: {"function", "event", "result" or
"error", "emulator", "ms"} (and "killed": true for the killed one).
--work-dir DIR: where code is unpacked and where each emulator keeps its
stderr (emulators/N/stderr.log); default a temporary directory, removed at
exit (a given DIR is kept).

moto 5.2.1 internals mended here (see patch_moto()):
- CloudFormation writes functions and state machines into
  moto.awslambda.models.lambda_backends and
  moto.stepfunctions.models.stepfunctions_backends, while with this config
  the APIs and the interpreter read lambda_simple_backends and
  stepfunctions_parser_backends: the module-level names are pointed at the
  latter.
- StepFunctionsParserBackend.start_execution deep-copies the state machine,
  which drags its running executions (threads, locks) and its backend
  along: the second StartExecution fails. StateMachineInstance gets a
  __deepcopy__ that leaves executions, backend, versions and aliases out.
- moto.cloudformation.parsing.clean_json: Fn::Sub's list form went through
  string.Template, which turns "$$" into "$" (a definition's
  "$$.Map.Item.Value" became "$.Map.Item.Value"); AWS replaces "${name}" only.
- ResultWriter._eval_body (stepfunctions/parser/.../result_writer_decl.py)
  evaluated Parameters ("Bucket.$": "$.bucket") against the Map's results;
  AWS evaluates them against the state's input.
- LambdaSimpleBackend.invoke (a stub that echoes the payload and never checks
  the function exists) is replaced by the runtime-backed invoke. moto's
  interpreter already names a function error by the payload's errorType
  (StateTaskServiceLambda._from_error) when the answer carries
  X-Amz-Function-Error, so nothing else is needed there.
"""
import argparse
import atexit
import ctypes
import hashlib
import json
import logging
import os
import select
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
EMULATOR = os.path.join(HERE, "lambda_runtime.py")

ARGS = None
PORT = 0
WORK = None
LOG_LOCK = threading.Lock()


def say(msg):
    sys.stderr.write("moto_aws: %s\n" % msg)
    sys.stderr.flush()


def log_invocation(entry):
    if not ARGS.log:
        return
    with LOG_LOCK:
        with open(ARGS.log, "a") as f:
            f.write(json.dumps(entry, default=str) + "\n")


# ---------------------------------------------------------------- processes

def die_with_parent():
    """Child side: SIGKILL me when the harness dies, even by SIGKILL."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Spawner:
    """Starts children from one long-lived thread: PR_SET_PDEATHSIG fires
    when the thread that forked the child ends, so children must not be
    forked from request threads."""

    def __init__(self):
        self.cv = threading.Condition()
        self.jobs = []
        threading.Thread(target=self.run, daemon=True, name="spawner").start()

    def run(self):
        while True:
            with self.cv:
                while not self.jobs:
                    self.cv.wait()
                job = self.jobs.pop(0)
            try:
                job["proc"] = subprocess.Popen(*job["args"], **job["kwargs"])
            except Exception as e:  # noqa: BLE001
                job["exc"] = e
            job["done"].set()

    def popen(self, *args, **kwargs):
        kwargs.setdefault("preexec_fn", die_with_parent)
        job = {"args": args, "kwargs": kwargs, "done": threading.Event()}
        with self.cv:
            self.jobs.append(job)
            self.cv.notify()
        job["done"].wait()
        if "exc" in job:
            raise job["exc"]
        return job["proc"]


SPAWNER = None


def kill_group(proc, grace=2.0):
    """Stops an emulator: its process group (the emulator, its runtime and
    whatever the runtime started)."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers, even after the leader is gone
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(2)
    except subprocess.TimeoutExpired:
        pass


_RO_MOUNT = {}


def can_ro_mount():
    """Whether a read-only bind mount in a private mount namespace works here."""
    if "ok" not in _RO_MOUNT:
        ok = False
        if os.geteuid() == 0 and shutil.which("unshare"):
            d = tempfile.mkdtemp(prefix="ro-probe.", dir=WORK)
            try:
                r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                                    'mount --bind -o ro "$1" "$1" && ! touch "$1/x" 2>/dev/null', "sh", d],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=10)
                ok = r.returncode == 0 and not os.path.exists(os.path.join(d, "x"))
            except Exception:  # noqa: BLE001
                ok = False
            shutil.rmtree(d, ignore_errors=True)
        _RO_MOUNT["ok"] = ok
        if not ok:
            say("no read-only bind mount here: the code directory is read-only by file modes only")
    return _RO_MOUNT["ok"]


# ---------------------------------------------------------------- code

CODE_LOCK = threading.Lock()
CODE_DIRS = {}   # sha256 hex -> unpacked directory


def unpack(zip_bytes, sha):
    """Unpacks a deployment zip once per code SHA, with the modes the zip
    records (zipfile does not restore them), then makes the tree read-only."""
    with CODE_LOCK:
        if sha in CODE_DIRS:
            return CODE_DIRS[sha]
        dest = os.path.join(WORK, "code", sha[:16])
        if os.path.exists(dest):
            make_writable(dest)
            shutil.rmtree(dest)
        os.makedirs(dest)
        import io
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as z:
            for info in z.infolist():
                name = info.filename
                parts = [p for p in name.split("/") if p not in ("", ".")]
                if name.startswith("/") or ".." in parts or not parts:
                    raise ValueError("unsafe path in the deployment package: %r" % name)
                target = os.path.join(dest, *parts)
                mode = (info.external_attr >> 16) & 0xFFFF
                if info.is_dir():
                    os.makedirs(target, exist_ok=True)
                    os.chmod(target, (mode & 0o7777) or 0o755)
                    continue
                os.makedirs(os.path.dirname(target), exist_ok=True)
                if stat.S_ISLNK(mode):
                    os.symlink(z.read(info).decode(), target)
                    continue
                with z.open(info) as src, open(target, "wb") as out:
                    shutil.copyfileobj(src, out)
                os.chmod(target, (mode & 0o7777) or 0o644)
        # Lambda's /var/task is read-only.
        for root, dirs, files in os.walk(dest):
            for f in files:
                p = os.path.join(root, f)
                if not os.path.islink(p):
                    os.chmod(p, os.stat(p).st_mode & ~0o222)
            os.chmod(root, (os.stat(root).st_mode & ~0o222) | 0o555)
        CODE_DIRS[sha] = dest
        return dest


def make_writable(path):
    for root, dirs, files in os.walk(path):
        os.chmod(root, 0o755)


def function_code(fn):
    """The function's zip and its SHA-256 (hex): moto keeps the bytes, else
    they are read from moto's S3 by Code.S3Bucket/S3Key."""
    data = getattr(fn, "code_bytes", b"") or b""
    if not data:
        code = fn.code or {}
        if "S3Bucket" in code and "S3Key" in code:
            from moto.s3.models import s3_backends
            try:
                data = s3_backends[fn.account_id][fn.partition].get_object(code["S3Bucket"], code["S3Key"]).value
            except Exception as e:  # noqa: BLE001
                raise service_error("the function's code s3://%s/%s cannot be read: %s" % (code["S3Bucket"], code["S3Key"], e))
        elif "ZipFile" in code:
            import base64
            data = base64.b64decode(code["ZipFile"])
    if not data:
        raise service_error("the function %s has no code" % fn.function_name)
    return data, hashlib.sha256(data).hexdigest()


def service_error(message):
    from moto.awslambda.exceptions import LambdaClientError

    class ServiceException(LambdaClientError):
        code = 500
    return ServiceException("ServiceException", message)


# ---------------------------------------------------------------- emulators

class Emulator:
    seq = 0
    seq_lock = threading.Lock()

    def __init__(self, fn, key, code_dir):
        with Emulator.seq_lock:
            Emulator.seq += 1
            self.n = Emulator.seq
        self.key = key
        self.fn_arn = fn.function_arn
        self.dir = os.path.join(WORK, "emulators", str(self.n))
        tmp = os.path.join(self.dir, "tmp")
        home = os.path.join(self.dir, "home")
        os.makedirs(tmp)
        os.makedirs(home)
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
        }
        env.update({k: str(v) for k, v in (fn.environment_vars or {}).items()})
        env.update({
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_REGION": fn.region,
            "AWS_DEFAULT_REGION": fn.region,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/%s" % fn.function_name,
            "AWS_LAMBDA_LOG_STREAM_NAME": "emulator-%d" % self.n,
            "AWS_ENDPOINT_URL_DYNAMODB": ARGS.dynamodb_endpoint,
            "AWS_ENDPOINT_URL": "http://127.0.0.1:%d" % PORT,
            "LAMBDA_TASK_ROOT": code_dir,
            "LAMBDA_RUNTIME_DIR": code_dir,
            "_HANDLER": fn.handler or "",
            "TMPDIR": tmp,
            "HOME": home,
        })
        cmd = [sys.executable, EMULATOR, "--", os.path.join(code_dir, "bootstrap")]
        if can_ro_mount():
            cmd = ["unshare", "-m", "--propagation", "private", "sh", "-c",
                   # cd again: a cwd taken before the mount is still the writable directory
                   'mount --bind -o ro "$0" "$0" && cd "$0" && exec "$@"', code_dir] + cmd
        self.stderr = open(os.path.join(self.dir, "stderr.log"), "ab")
        self.proc = SPAWNER.popen(cmd, cwd=code_dir, env=env, stdout=subprocess.PIPE,
                                  stderr=self.stderr, start_new_session=True)
        line = b""
        deadline = time.time() + 20
        while not line.endswith(b"\n") and time.time() < deadline:
            r, _, _ = select.select([self.proc.stdout], [], [], 0.5)
            if r:
                b = os.read(self.proc.stdout.fileno(), 64)
                if not b:
                    break
                line += b
        try:
            self.port = int(line.split(b"\n")[0])
        except ValueError:
            kill_group(self.proc)
            raise service_error("emulator %d did not start (see %s/stderr.log)" % (self.n, self.dir))
        self.url = "http://127.0.0.1:%d" % self.port
        say("emulator %d (port %d, pid %d) for %s" % (self.n, self.port, self.proc.pid, fn.function_name))

    def alive(self):
        return self.proc.poll() is None

    def call(self, path, body=None, timeout=10):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.url + path, data, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return json.load(r)

    def stop(self):
        kill_group(self.proc)
        try:
            self.stderr.close()
        except Exception:  # noqa: BLE001
            pass


class Pool:
    """One emulator per concurrent invocation, reused when idle, at most
    --max-runtimes per function."""

    def __init__(self, limit):
        self.limit = limit
        self.cv = threading.Condition()
        self.all = {}        # function ARN -> list of Emulator (or None while starting)
        self.idle = []       # idle Emulators
        self.closed = False

    def acquire(self, fn, key, code_dir):
        arn = fn.function_arn
        with self.cv:
            while True:
                if self.closed:
                    raise service_error("the harness is stopping")
                for e in self.idle:
                    if e.key == key:
                        self.idle.remove(e)
                        if e.alive():
                            return e
                        self.all[arn].remove(e)
                        e.stop()
                        break
                else:
                    mine = self.all.setdefault(arn, [])
                    if len(mine) < self.limit:
                        mine.append(None)   # a slot, while it starts
                        break
                    stale = [e for e in self.idle if e.fn_arn == arn]
                    if stale:               # code or configuration changed
                        e = stale[0]
                        self.idle.remove(e)
                        mine.remove(e)
                        e.stop()
                        continue
                    self.cv.wait()
        try:
            e = Emulator(fn, key, code_dir)
        except BaseException:
            with self.cv:
                self.all[arn].remove(None)
                self.cv.notify_all()
            raise
        with self.cv:
            self.all[arn][self.all[arn].index(None)] = e
        return e

    def release(self, e, broken=False):
        with self.cv:
            if broken or not e.alive() or self.closed:
                self.all[e.fn_arn].remove(e)
                drop = True
            else:
                self.idle.append(e)
                drop = False
            self.cv.notify_all()
        if drop:
            e.stop()

    def stop_all(self):
        with self.cv:
            self.closed = True
            emus = [e for es in self.all.values() for e in es if e]
            self.cv.notify_all()
        for e in emus:
            e.stop()


POOL = None
KILL = {"armed": False, "spent": False}
KILL_LOCK = threading.Lock()


def maybe_arm_kill(emu, event):
    if not ARGS.kill_one_after_ms or not isinstance(event, dict) or "segment" not in event:
        return None
    with KILL_LOCK:
        if KILL["armed"] or KILL["spent"]:
            return None
        KILL["armed"] = True
    mark = {"killed": False}

    def killer():
        try:
            # The invocation this harness just handed over is the emulator's last.
            t_end = time.time() + 60
            inv = None
            while time.time() < t_end:
                invs = emu.call("/__state")["invocations"]
                inv = invs[-1] if invs else None
                if inv and (inv["taken"] or inv["done"]):
                    break
                time.sleep(0.02)
            if inv and inv["taken"] and not inv["done"]:
                time.sleep(ARGS.kill_one_after_ms / 1000.0)
                invs = emu.call("/__state")["invocations"]
                if invs and invs[-1]["id"] == inv["id"] and not invs[-1]["done"]:
                    mark["killed"] = True     # before: the invocation may answer before /__kill does
                    emu.call("/__kill", {})
                    with KILL_LOCK:
                        KILL["spent"] = True
                    say("killed emulator %d's runtime %d ms into the invocation of %s"
                        % (emu.n, ARGS.kill_one_after_ms, json.dumps(inv["event"])))
                    return
        except Exception as e:  # noqa: BLE001
            say("the kill failed: %s" % e)
        with KILL_LOCK:
            KILL["armed"] = False   # that one ended first: the next segment invocation is the one

    threading.Thread(target=killer, daemon=True).start()
    return mark


def run_invocation(fn, event, qualifier=None):
    """Runs one invocation; returns (result, error), one of them None."""
    data, sha = function_code(fn)
    code_dir = unpack(data, sha)
    if not os.path.exists(os.path.join(code_dir, "bootstrap")):
        return None, {"errorType": "Runtime.InvalidEntrypoint",
                      "errorMessage": "the deployment package has no bootstrap"}
    env_key = json.dumps(fn.environment_vars or {}, sort_keys=True)
    key = (fn.function_arn, sha, env_key, str(fn.memory_size), fn.region)
    timeout_ms = ARGS.invoke_timeout_ms or int(float(fn.timeout) * 1000)
    t0 = time.time()
    emu = POOL.acquire(fn, key, code_dir)
    broken = False
    mark = None
    try:
        mark = maybe_arm_kill(emu, event)
        try:
            ans = emu.call("/__invoke", {"event": event, "timeout_ms": timeout_ms,
                                         "function_arn": fn.function_arn},
                           timeout=timeout_ms / 1000.0 + 30)
        except Exception as e:  # noqa: BLE001
            broken = True
            ans = {"error": {"errorType": "Sandbox.Timedout" if "timed out" in str(e) else "Runtime.Unknown",
                             "errorMessage": "the emulator did not answer: %s" % e}}
    finally:
        POOL.release(emu, broken)
    ms = int((time.time() - t0) * 1000)
    entry = {"function": fn.function_name, "event": event, "emulator": emu.n, "ms": ms}
    if "error" in ans:
        entry["error"] = ans["error"]
    else:
        entry["result"] = ans.get("result")
    if mark and mark["killed"]:
        entry["killed"] = True
    log_invocation(entry)
    return ans.get("result"), ans.get("error")


def harness_invoke(self, function_name, qualifier, body, headers, response_headers):
    """Replaces LambdaSimpleBackend.invoke (moto/awslambda_simple/models.py)."""
    fn = self.get_function(function_name, qualifier)   # UnknownFunctionException: 404 ResourceNotFoundException
    if isinstance(body, bytes):
        body = body.decode("utf-8")
    if not body:
        event = {}
    else:
        try:
            event = json.loads(body)
        except ValueError:
            from moto.awslambda.exceptions import LambdaClientError
            raise LambdaClientError("InvalidRequestContentException", "Could not parse request body into json")
    inv_type = (headers.get("X-Amz-Invocation-Type") or "RequestResponse") if headers else "RequestResponse"
    if inv_type == "DryRun":
        return b""
    if inv_type == "Event":
        threading.Thread(target=run_invocation, args=(fn, event, qualifier), daemon=True).start()
        return b""
    result, error = run_invocation(fn, event, qualifier)
    response_headers["x-amz-executed-version"] = "$LATEST"
    if error is not None:
        response_headers["x-amz-function-error"] = "Unhandled"
        return json.dumps(error).encode()
    return json.dumps(result).encode()


# ---------------------------------------------------------------- moto

def patch_moto():
    from moto.core.config import default_user_config
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config["lambda"] = {"use_docker": False}

    # 1. One store per service: what CloudFormation writes is what the APIs
    #    and the interpreter read.
    import moto.awslambda.models
    import moto.awslambda_simple.models
    import moto.cloudformation.custom_model
    import moto.stepfunctions.models
    import moto.stepfunctions.parser.models
    lam = moto.awslambda_simple.models.lambda_simple_backends
    sfn = moto.stepfunctions.parser.models.stepfunctions_parser_backends
    # (Not the packages' own names, moto.awslambda.lambda_backends and
    # moto.stepfunctions.stepfunctions_backends: moto.backends.get_backend
    # finds the services' URL maps through them.)
    moto.awslambda.models.lambda_backends = lam
    moto.cloudformation.custom_model.lambda_backends = lam
    moto.stepfunctions.models.stepfunctions_backends = sfn
    try:
        import moto.resourcegroupstaggingapi.models as tagging
        tagging.lambda_backends = lam
        tagging.stepfunctions_backends = sfn
    except Exception:  # noqa: BLE001
        pass

    # 2. The deepcopy in StepFunctionsParserBackend.start_execution: copy the
    #    state machine's own data only.
    import copy
    from moto.stepfunctions.models import StateMachineInstance
    shared = ("backend", "versions", "aliases", "latest_version")

    def sm_deepcopy(self, memo):
        clone = self.__class__.__new__(self.__class__)
        memo[id(self)] = clone
        for k, v in self.__dict__.items():
            if k == "executions":
                clone.__dict__[k] = []
            elif k in shared:
                clone.__dict__[k] = v
            else:
                clone.__dict__[k] = copy.deepcopy(v, memo)
        return clone
    StateMachineInstance.__deepcopy__ = sm_deepcopy

    # 3. Fn::Sub in its list form: moto substitutes the variables with
    #    string.Template, which also turns "$$" into "$" (and "$name" into the
    #    variable): a definition's "$$.Map.Item.Value" became "$.Map.Item.Value".
    #    AWS replaces "${name}" only.
    import moto.cloudformation.parsing as parsing
    orig_clean_json = parsing.clean_json

    def clean_json(resource_json, resources_map):
        if isinstance(resource_json, dict) and isinstance(resource_json.get("Fn::Sub"), list) \
                and len(resource_json["Fn::Sub"]) == 2:
            template, mappings = resource_json["Fn::Sub"]
            template = clean_json(template, resources_map)
            for name, value in (mappings or {}).items():
                template = template.replace("${%s}" % name, str(clean_json(value, resources_map)))
            return orig_clean_json({"Fn::Sub": template}, resources_map)
        return orig_clean_json(resource_json, resources_map)
    parsing.clean_json = clean_json   # its recursion goes through the module's name

    # 4. A Distributed Map's ResultWriter Parameters ("Bucket.$": "$.bucket")
    #    are evaluated against the results array in moto, against the state's
    #    input on AWS.
    from moto.stepfunctions.parser.asl.component.state.exec.state_map.result_writer import result_writer_decl

    def result_writer_eval_body(self, env):
        results = env.stack.pop()
        env.stack.append(env.states.get_input())
        self.parargs.eval(env=env)
        parameters = env.stack.pop()
        env.stack.pop()
        env.stack.append(results)
        env.stack.append(parameters)
        self.resource_eval.eval_resource(env=env)
    result_writer_decl.ResultWriter._eval_body = result_writer_eval_body

    # 5. Invocations run by real runtimes.
    moto.awslambda_simple.models.LambdaSimpleBackend.invoke = harness_invoke


def main():
    global ARGS, PORT, WORK, POOL, SPAWNER
    ap = argparse.ArgumentParser(description="moto with real Lambda custom runtimes")
    ap.add_argument("--dynamodb-endpoint", required=True)
    ap.add_argument("--invoke-timeout-ms", type=int, default=0)
    ap.add_argument("--max-runtimes", type=int, default=8)
    ap.add_argument("--kill-one-after-ms", type=int, default=0)
    ap.add_argument("--log")
    ap.add_argument("--work-dir")
    ARGS = ap.parse_args()
    if ARGS.max_runtimes < 1:
        ap.error("--max-runtimes must be at least 1")

    own_work = not ARGS.work_dir
    if own_work:
        WORK = tempfile.mkdtemp(prefix="moto_aws.")
    else:
        os.makedirs(ARGS.work_dir, exist_ok=True)
        WORK = tempfile.mkdtemp(prefix="run.", dir=os.path.abspath(ARGS.work_dir))
    os.chmod(WORK, 0o755)
    if ARGS.log:
        ARGS.log = os.path.abspath(ARGS.log)

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    patch_moto()
    SPAWNER = Spawner()
    POOL = Pool(ARGS.max_runtimes)

    server = make_server("127.0.0.1", 0, DomainDispatcherApplication(create_backend_app), threaded=True)
    server.daemon_threads = True
    PORT = server.server_address[1]
    # moto's interpreter calls S3, Lambda, SQS at localhost:$MOTO_PORT (settings.moto_server_port).
    os.environ["MOTO_PORT"] = str(PORT)
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")

    stopped = threading.Event()
    done = {"v": False}

    def cleanup():
        if done["v"]:
            return
        done["v"] = True
        POOL.stop_all()
        if own_work:
            make_writable(WORK)
            shutil.rmtree(WORK, ignore_errors=True)
    atexit.register(cleanup)

    def on_signal(*_):
        stopped.set()
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    threading.Thread(target=server.serve_forever, daemon=True, name="moto").start()
    print(PORT, flush=True)
    say("moto on http://127.0.0.1:%d, work dir %s" % (PORT, WORK))
    while not stopped.wait(1.0):
        pass
    say("stopping")
    threading.Thread(target=server.shutdown, daemon=True).start()
    cleanup()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
