#!/usr/bin/env python3
"""The engine's safety rules against DynamoDB Local, each with an
application writing at the same time where that is the point: no write
of the application is lost in any write mode, deletes and key moves
included; a marker means one thing; a checkpoint belongs to one run.
Everything is checked through an independent client (tools/ddb.py).

usage: test_rules.py DDBMIG TESTS_DIR ENDPOINT CASE
"""
import json
import os
import random
import subprocess
import sys
import tempfile
import threading
import time

TESTS = sys.argv[2]
sys.path.insert(0, os.path.join(TESTS, "tools"))
import ddb  # noqa: E402

DDBMIG, ENDPOINT, CASE = sys.argv[1], sys.argv[3], sys.argv[4]
C = ddb.Client(ENDPOINT)
WORK = tempfile.mkdtemp()
ENV = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDTEST", AWS_SECRET_ACCESS_KEY="secret",
           AWS_EC2_METADATA_DISABLED="true", AWS_REGION="us-east-1")
TABLE = "rules_%s_%d" % (CASE, os.getpid())
N = 1500

INCREMENT = "function migrate(item, ctx) item.count = item.count + 1; return item end\n"


def script(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def ddbmig(*args, expect=None, timeout=600):
    cmd = [DDBMIG] + list(args) + ["--endpoint-url", ENDPOINT]
    p = subprocess.run(cmd, cwd=WORK, env=ENV, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        raise AssertionError("%s exited %d, expected %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), p.returncode, expect, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def run_json(*args, expect=0):
    return json.loads(ddbmig(*(list(args) + ["--yes", "--quiet", "--output", "json"]), expect=expect).stdout)


def key(i):
    return {"pk": {"S": "k%05d" % i}}


def load(n=N, extra=None):
    C.create(TABLE, "pk")
    items = []
    for i in range(n):
        it = {"pk": {"S": "k%05d" % i}, "count": {"N": str(i)}, "pad": {"S": "x" * 40}}
        it.update(extra(i) if extra else {})
        items.append(it)
    C.put_all(TABLE, items)
    return items


class App:
    """Threads writing to random items until stopped; each write that
    succeeded is recorded per key."""

    def __init__(self, write, n=N, threads=4):
        self.write, self.n = write, n
        self.done = threading.Event()
        self.lock = threading.Lock()
        self.applied = {}
        self.errors = []
        self.threads = [threading.Thread(target=self.loop, args=(s,)) for s in range(threads)]

    def loop(self, seed):
        rnd = random.Random(seed)
        client = ddb.Client(ENDPOINT)
        while not self.done.is_set():
            i = rnd.randrange(self.n)
            try:
                result = self.write(client, i, rnd)
            except Exception as e:  # noqa: BLE001
                self.errors.append(e)
                return
            if result is not False:
                with self.lock:
                    self.applied.setdefault(i, []).append(result)

    def __enter__(self):
        for t in self.threads:
            t.start()
        time.sleep(0.3)
        return self

    def __exit__(self, *exc):
        self.done.set()
        for t in self.threads:
            t.join()
        assert not self.errors, self.errors

    def count(self):
        return sum(len(v) for v in self.applied.values())



def app_writes(with_other=False):
    """The application's writes, at random: bump the counter the script
    reads; add an attribute of its own (a name no condition can know of);
    or, while the item is not migrated yet, change `other`, from which the
    script derives a value. Each only while the item exists."""

    def write(client, i, rnd):
        kind = rnd.randrange(3 if with_other else 2)
        if kind == 0:
            ok = client.update(TABLE, key(i), "ADD #c :one", {":one": {"N": "1"}}, {"#c": "count"},
                               condition="attribute_exists(pk)")
            return ("count", 1) if ok else False
        if kind == 1:
            tag = "t%d" % rnd.randrange(1000000)
            ok = client.update(TABLE, key(i), "SET #t = :t", {":t": {"S": tag}}, {"#t": "app_" + tag},
                               condition="attribute_exists(pk)")
            return ("tag", tag) if ok else False
        ok = client.update(TABLE, key(i), "ADD #o :one", {":one": {"N": "1"}}, {"#o": "other"},
                           condition="attribute_exists(pk) AND attribute_not_exists(done)")
        return ("other", 1) if ok else False
    return write


def applied(app, i, kind):
    return [v for k, v in app.applied.get(i, []) if k == kind]


def slow():
    # A write cap stretches the run over several seconds, so that the
    # application's writes land between the scan of an item and its write.
    return ["--total-segments", "8", "--page-size", "100", "--max-write-units", "250"]


def check_no_lost_write(items, app, shift):
    """Every item: the migration's change once; every one of the
    application's increments and attributes; and the derived value from
    what `other` was when the migration wrote."""
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    assert len(got) == len(items), (len(got), len(items))
    for i, it in enumerate(items):
        g = got[it["pk"]["S"]]
        want = int(it["count"]["N"]) + len(applied(app, i, "count")) + shift
        assert int(g["count"]["N"]) == want, (it["pk"], g["count"], want)
        for t in applied(app, i, "tag"):
            assert g.get("app_" + t) == {"S": t}, ("lost the application's attribute", it["pk"], t, g)
        other = int(it["other"]["N"]) + len(applied(app, i, "other"))
        assert int(g["other"]["N"]) == other and int(g["derived"]["N"]) == 2 * other, \
            ("a value derived from a stale read", it["pk"], g)
        assert g.get("done") == {"BOOL": True}, g


SHIFT = """
function migrate(item, ctx)
  if item.done then return nil end
  item.count = item.count + 1000
  item.derived = item.other * 2
  item.done = true
  return item
end
"""


def modes(mode):
    items = load(extra=lambda i: {"other": {"N": str(i % 7)}})
    with App(app_writes(with_other=True)) as app:
        s = run_json("run", "--table-name", TABLE, "--script", script("shift.lua", SHIFT), "--write-mode", mode,
                     *slow())
    assert app.count() > 100, "too few application writes to matter: %d" % app.count()
    assert s["changed"] == N and s["failed"] == 0, s
    assert s["conflicts"] > 0, "no concurrent write met the migration: the test proves nothing"
    check_no_lost_write(items, app, 1000)
    print("%s: %d application writes, %d conflicts" % (mode, app.count(), s["conflicts"]))


def case_update_concurrent():
    """Update mode: no application write lost, no value derived from a
    read that another writer changed meanwhile."""
    modes("update")


def case_put_concurrent():
    """Put mode (a whole item from the script) keeps what the application
    added meanwhile."""
    modes("put")


# Without a version attribute one window stays open: an attribute of a
# new name added between the read that precedes a delete or a move and
# the write itself (one round trip). These tests count such losses and
# allow one in two hundred of the attributes added (at least five);
# without that read the window is the whole time from the scan to the
# write, and losses number in the tens or hundreds (a tenth of them).
def window_losses(app):
    tags = sum(1 for v in app.applied.values() for k, _ in v if k == "tag")
    return max(5, tags // 200)


def case_delete_concurrent():
    """Deleting items whose count is even and that carry no attribute of
    the application's, while it increments counts and adds attributes: an
    item is deleted only as the script saw it."""
    items = load()
    delete_even = script("del.lua", "function migrate(item, ctx)\n"
                                    "  for k in pairs(item) do if k:sub(1, 4) == 'app_' then return nil end end\n"
                                    "  if item.count % 2 == 0 then return ddb.DELETE end\n  return nil\nend\n")
    with App(app_writes()) as app:
        s = run_json("run", "--table-name", TABLE, "--script", delete_even, *slow())
    assert s["failed"] == 0, s
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    lost = 0
    for i, it in enumerate(items):
        final = int(it["count"]["N"]) + len(applied(app, i, "count"))
        g = got.get(it["pk"]["S"])
        if g is None:
            # Every write that succeeded came before the delete, which was
            # guarded by what the script saw: an even count...
            assert final % 2 == 0, ("deleted an item whose count was odd", it["pk"], final)
            # ...and no attribute of the application's.
            lost += 1 if applied(app, i, "tag") else 0
        else:
            assert int(g["count"]["N"]) == final, (it["pk"], g["count"], final)
            for t in applied(app, i, "tag"):
                assert g.get("app_" + t) == {"S": t}, (it["pk"], t)
    assert s["deleted"] > 0 and s["conflicts"] > 0, s
    assert lost <= window_losses(app), "%d deleted items had an attribute the script never saw" % lost
    print("deleted %d, %d application writes, %d conflicts, %d in the window" % (
        s["deleted"], app.count(), s["conflicts"], lost))


def case_move_concurrent():
    """A key change for every item while the application writes to the old
    keys: what it wrote before the move moves along."""
    items = load()
    move = script("move.lua", "function migrate(item, ctx)\n"
                              "  if item.pk:sub(1, 1) ~= 'k' then return nil end\n"
                              "  item.pk = 'n' .. item.pk:sub(2)\n  return item\nend\n")
    with App(app_writes()) as app:
        s = run_json("run", "--table-name", TABLE, "--script", move, *slow())
    assert s["failed"] == 0 and s["moved"] == N, s
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    assert len(got) == N and all(k.startswith("n") for k in got), len(got)
    lost = 0
    for i, it in enumerate(items):
        g = got["n%05d" % i]
        n = len(applied(app, i, "count"))
        assert int(g["count"]["N"]) == int(it["count"]["N"]) + n, (i, g["count"], n)
        lost += sum(1 for t in applied(app, i, "tag") if g.get("app_" + t) != {"S": t})
    assert lost <= window_losses(app), "%d attributes of the application's were lost in moves" % lost
    print("moved %d, %d application writes, %d conflicts, %d in the window" % (
        s["moved"], app.count(), s["conflicts"], lost))


def case_version_concurrent():
    """--version-attribute: the application bumps the version with each
    write; no write is lost and the migration bumps it too."""
    items = load(extra=lambda i: {"ver": {"N": "1"}, "other": {"N": "3"}})

    def bump(client, i, rnd):
        ok = client.update(TABLE, key(i), "ADD #c :one, #v :one", {":one": {"N": "1"}}, {"#c": "count", "#v": "ver"},
                           condition="attribute_exists(pk)")
        return ("count", 1) if ok else False

    with App(bump) as app:
        s = run_json("run", "--table-name", TABLE, "--script", script("shift.lua", SHIFT), "--version-attribute",
                     "ver", *slow())
    assert s["changed"] == N and s["failed"] == 0 and s["conflicts"] > 0, s
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    for i, it in enumerate(items):
        g = got[it["pk"]["S"]]
        n = len(applied(app, i, "count"))
        assert int(g["count"]["N"]) == int(it["count"]["N"]) + n + 1000, (i, g)
        assert int(g["ver"]["N"]) == 1 + n + 1, (i, g["ver"], n)


def case_absent_concurrent():
    """The script decides on an attribute's absence while the application
    adds that attribute: the decision is never written once it is there."""
    items = load()

    def flag(client, i, rnd):
        ok = client.update(TABLE, key(i), "SET #f = :t", {":t": {"BOOL": True}}, {"#f": "flag"},
                           condition="attribute_exists(pk) AND attribute_not_exists(done)")
        return ("flag", 1) if ok else False

    decide = script("decide.lua", "function migrate(item, ctx)\n  if item.done then return nil end\n"
                                  "  item.flagged = item.flag ~= nil\n  item.done = true\n  return item\nend\n")
    with App(flag) as app:
        s = run_json("run", "--table-name", TABLE, "--script", decide, *slow())
    assert s["changed"] == N and s["failed"] == 0, s
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    for i, it in enumerate(items):
        g = got[it["pk"]["S"]]
        if applied(app, i, "flag"):
            assert g.get("flagged") == {"BOOL": True}, ("wrote a decision made without the attribute", g)
        else:
            assert g.get("flagged") == {"BOOL": False}, g
    assert s["conflicts"] > 0, s
    print("%d flags set by the application, %d conflicts" % (app.count(), s["conflicts"]))


def case_unread_concurrent():
    """The application changes only attributes the script never looks at:
    its writes and the migration's both land, and none of them is a
    conflict, since an update names in its condition only what the script
    saw and what it writes (what it never saw cannot have changed its
    result, and the update leaves it as it is)."""
    items = load()

    def bump(client, i, rnd):
        if rnd.randrange(2):
            ok = client.update(TABLE, key(i), "ADD #c :one", {":one": {"N": "1"}}, {"#c": "count"},
                               condition="attribute_exists(pk)")
            return ("count", 1) if ok else False
        tag = "t%d" % rnd.randrange(1000000)
        ok = client.update(TABLE, key(i), "SET #t = :t", {":t": {"S": tag}}, {"#t": "app_" + tag},
                           condition="attribute_exists(pk)")
        return ("tag", tag) if ok else False

    stamp = script("stamp.lua", "function migrate(item, ctx)\n  if item.updatedAt ~= nil then return nil end\n"
                                "  item.updatedAt = ctx.now\n  return item\nend\n")
    with App(bump) as app:
        s = run_json("run", "--table-name", TABLE, "--script", stamp, *slow())
    assert app.count() > 100, "too few application writes to matter: %d" % app.count()
    assert s["changed"] == N and s["failed"] == 0, s
    assert s["conflicts"] == 0, ("a write unrelated to what the script saw made a conflict", s)
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    for i, it in enumerate(items):
        g = got[it["pk"]["S"]]
        assert "updatedAt" in g, g
        assert int(g["count"]["N"]) == i + len(applied(app, i, "count")), ("lost an increment", g)
        for t in applied(app, i, "tag"):
            assert g.get("app_" + t) == {"S": t}, ("lost the application's attribute", t, g)
        assert g["pad"] == it["pad"], g
    # The same script reading the counter (here through pairs) is guarded
    # by it: the application's increments now meet the migration.
    C.delete(TABLE)
    items = load()
    scan_all = script("all.lua", "function migrate(item, ctx)\n  if item.total ~= nil then return nil end\n"
                                 "  local n = 0\n  for k, v in pairs(item) do n = n + 1 end\n"
                                 "  item.total = item.count + n\n  return item\nend\n")
    with App(bump) as app2:
        s2 = run_json("run", "--table-name", TABLE, "--script", scan_all, *slow())
    assert s2["changed"] == N and s2["failed"] == 0, s2
    assert s2["conflicts"] > 0, ("no application write met a script that read the whole item", s2)
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    for i, it in enumerate(items):
        g = got[it["pk"]["S"]]
        assert int(g["count"]["N"]) == i + len(applied(app2, i, "count")), ("lost an increment", g)
    print("%d application writes, no conflict; then %d conflicts for a script that read everything" %
          (app.count(), s2["conflicts"]))


def case_key_range():
    """Throttles that name a hot key range slow the segment that met them,
    never the run: the table's write limiter does not cut."""
    items = load(n=2000)
    proxy = subprocess.Popen([sys.executable, os.path.join(TESTS, "fakes", "fault_proxy.py"), ENDPOINT,
                              "--seed", "5", "--key-range-throttle", "0.3"], stdout=subprocess.PIPE, text=True)
    try:
        url = "http://127.0.0.1:%s" % proxy.stdout.readline().strip()
        cmd = [DDBMIG, "run", "--table-name", TABLE, "--script", script("shift.lua", SHIFT.replace(
            "item.derived = item.other * 2\n", "")), "--yes", "--quiet", "--output", "json", "--debug",
            "--total-segments", "4", "--workers", "2", "--page-size", "100", "--endpoint-url", url]
        p = subprocess.run(cmd, cwd=WORK, env=ENV, capture_output=True, text=True, timeout=600)
        assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
        s = json.loads(p.stdout)
        import urllib.request
        st = json.loads(urllib.request.urlopen(url + "/__stats").read())
    finally:
        proxy.terminate()
        proxy.wait()
    assert s["changed"] == len(items) and s["failed"] == 0, s
    assert st["key_range_throttle"] > 50, st
    assert "limiter segment:" in p.stderr, "the segments' limiters never heard of the throttles"
    assert "limiter write: cut" not in p.stderr, [l for l in p.stderr.splitlines() if "limiter write: cut" in l][:3]
    print("%d key-range throttles; the write limiter never cut" % st["key_range_throttle"])


def case_statements_refused():
    """Credentials without dynamodb:PartiQLUpdate: BatchExecuteStatement is
    refused, which is said once, and every update goes as its own
    UpdateItem; no item fails, none is written twice."""
    items = load(n=1000)
    proxy = subprocess.Popen([sys.executable, os.path.join(TESTS, "fakes", "fault_proxy.py"), ENDPOINT,
                              "--deny", "BatchExecuteStatement"], stdout=subprocess.PIPE, text=True)
    try:
        url = "http://127.0.0.1:%s" % proxy.stdout.readline().strip()
        cmd = [DDBMIG, "run", "--table-name", TABLE, "--script", script("shift.lua", SHIFT.replace(
            "item.derived = item.other * 2\n", "")), "--yes", "--quiet", "--output", "json",
            "--total-segments", "4", "--endpoint-url", url]
        p = subprocess.run(cmd, cwd=WORK, env=ENV, capture_output=True, text=True, timeout=600)
        import urllib.request
        st = json.loads(urllib.request.urlopen(url + "/__stats").read())
    finally:
        proxy.terminate()
        proxy.wait()
    assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
    s = json.loads(p.stdout)
    assert s["changed"] == len(items) and s["failed"] == 0, s
    assert st["deny"] >= 1, st
    assert p.stderr.count("BatchExecuteStatement was refused") == 1, p.stderr[-2000:]
    assert "dynamodb:PartiQLUpdate" in p.stderr, p.stderr[-2000:]
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    for it in items:
        g = got[it["pk"]["S"]]
        assert int(g["count"]["N"]) == int(it["count"]["N"]) + 1000 and g["done"] == {"BOOL": True}, g
    print("%d refused calls, said once; every item written once by UpdateItem" % st["deny"])


def case_conflict_odd_values():
    """A failed condition whose current item holds U+0000 in a string (and
    a wide item whose guard cannot name all the script read): the script
    runs again on the current item; nothing fails, nothing stale lands."""
    C.create(TABLE, "pk")
    wide = {"pk": {"S": "w"}}
    wide.update({"a%d" % i: {"N": "1"} for i in range(200)})
    C.put_all(TABLE, [{"pk": {"S": "s"}, "x": {"S": "abc"}}, wide])
    # Each item's script spins 3 s after reading, so that the writer's
    # change lands between the read and the write.
    code = ("local t0 = os.clock() local v\n"
            "if item.pk == 's' then v = item.x .. '!' else v = 0 for i = 0, 199 do v = v + item['a' .. i] end end\n"
            "while not ctx.probe and os.clock() - t0 < 3 do end\n"
            "item.y = v return item")

    def writer():
        time.sleep(1.2)
        C.update(TABLE, {"pk": {"S": "s"}}, "SET #x = :v", {":v": {"S": "abc\u0000def"}}, {"#x": "x"})
        C.update(TABLE, {"pk": {"S": "w"}}, "SET #a = :v", {":v": {"N": "1000"}}, {"#a": "a199"})

    th = threading.Thread(target=writer)
    th.start()
    s = run_json("run", "--table-name", TABLE, "-e", code, "--total-segments", "2", "--workers", "2")
    th.join()
    assert s["changed"] == 2 and s["failed"] == 0 and s["conflicts"] >= 2, s
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    assert got["s"]["y"] == {"S": "abc\u0000def!"}, got["s"]
    assert got["w"]["y"] == {"N": "1199"}, ("a sum of stale values", got["w"]["y"])
    print("conflicts %d; both items re-run on what they hold now" % s["conflicts"])


def case_version_delete():
    """With a version attribute that every writer bumps, a delete misses
    nothing at all: no window is left."""
    items = load(extra=lambda i: {"ver": {"N": "1"}})

    def tag(client, i, rnd):
        t = "t%d" % rnd.randrange(1000000)
        ok = client.update(TABLE, key(i), "SET #t = :t ADD #v :one", {":t": {"S": t}, ":one": {"N": "1"}},
                           {"#t": "app_" + t, "#v": "ver"}, condition="attribute_exists(pk)")
        return ("tag", t) if ok else False

    delete_untagged = script("del.lua", "function migrate(item, ctx)\n"
                                        "  for k in pairs(item) do if k:sub(1, 4) == 'app_' then return nil end end\n"
                                        "  return ddb.DELETE\nend\n")
    with App(tag) as app:
        s = run_json("run", "--table-name", TABLE, "--script", delete_untagged, "--version-attribute", "ver",
                     *slow())
    assert s["failed"] == 0 and s["deleted"] > 0, s
    got = {it["pk"]["S"] for it in C.scan(TABLE)}
    for i, it in enumerate(items):
        if applied(app, i, "tag"):
            assert it["pk"]["S"] in got, ("deleted an item the application had tagged", it["pk"])
        else:
            assert it["pk"]["S"] not in got, it["pk"]


def case_marker_reuse():
    """A marker attribute used by one migration and then another: each
    applies once, the later one correctly."""
    items = load(n=300)
    first = script("a.lua", "function migrate(item, ctx) item.a = 1; return item end\n")
    second = script("b.lua", INCREMENT)
    s1 = run_json("run", "--table-name", TABLE, "--script", first, "--marker", "_m")
    s2 = run_json("run", "--table-name", TABLE, "--script", second, "--marker", "_m")
    assert s1["changed"] == 300 and s2["changed"] == 300 and s2["failed"] == 0, (s1, s2)
    again = run_json("run", "--table-name", TABLE, "--script", second, "--marker", "_m")
    assert again["changed"] == 0 and again["writes"] == 0, again
    for it in C.scan(TABLE):
        i = int(it["pk"]["S"][1:])
        assert it["a"] == {"N": "1"} and int(it["count"]["N"]) == i + 1, it
        assert it["_m"] == {"S": s2["migration"]}, it


def case_batch_no_overwrite():
    """Batch mode: a key change onto a key that holds another item fails
    that item; it never overwrites the other one."""
    load(n=50)
    shift_key = script("shift_key.lua", "function migrate(item, ctx)\n"
                                        "  local n = tonumber(item.pk:sub(2))\n"
                                        "  item.pk = string.format('k%05d', n + 1)\n  return item\nend\n")
    s = run_json("run", "--table-name", TABLE, "--script", shift_key, "--write-mode", "batch", "--total-segments",
                 "1", expect=1)
    # Whatever order the moves came in, no item's content was lost: each
    # count is still there exactly once, under its key or the next one.
    rows = C.scan(TABLE)
    counts = sorted(int(it["count"]["N"]) for it in rows)
    assert counts == list(range(50)), counts
    for it in rows:
        c = int(it["count"]["N"])
        assert it["pk"]["S"] in ("k%05d" % c, "k%05d" % (c + 1)), it
    moved = sum(1 for it in rows if it["pk"]["S"] != "k%05d" % int(it["count"]["N"]))
    assert s["moved"] == moved and s["failed"] == 50 - moved and s["failed"] > 0, (s, moved)


def case_binding():
    """A checkpoint belongs to one run: --resume with other options that
    change what is written is refused, naming each difference."""
    load(n=400)
    fail_some = script("fail.lua", "function migrate(item, ctx)\n  if ctx.probe then return nil end\n"
                                   "  if item.count % 3 == 0 then error('no') end\n"
                                   "  item.x = 1\n  return item\nend\n")
    base = ["run", "--table-name", TABLE, "--script", fail_some, "--marker", "_m", "--max-errors", "5",
            "--workers", "1", "--total-segments", "4", "--yes", "--quiet"]
    ddbmig(*base, expect=3)
    for extra, name in ((["--marker", "_other"], "--marker"), (["--write-mode", "batch"], "--write-mode"),
                        (["--filter-expression", "attribute_exists(pk)"], "--filter-expression"),
                        (["--total-segments", "8"], "--total-segments"),
                        (["--version-attribute", "v"], "--version-attribute")):
        args = list(base)
        for k in range(0, len(extra), 2):
            if extra[k] in args:
                args[args.index(extra[k]) + 1] = extra[k + 1]
            else:
                args += extra[k:k + 2]
        p = ddbmig(*(args + ["--resume"]), expect=2)
        assert "belongs to a run with other options" in p.stderr and name in p.stderr, (name, p.stderr)
    # The same options resume.
    p = ddbmig(*(base + ["--resume", "--max-errors", "1000"]), expect=1)


def case_limit_continues():
    """--limit leaves a checkpoint; the same command again takes the next
    items, never the same ones, also in the middle of a page."""
    load(n=250)
    inc = script("inc.lua", INCREMENT)
    args = ["run", "--table-name", TABLE, "--script", inc, "--limit", "60", "--total-segments", "1",
            "--page-size", "100", "--workers", "1"]
    total, runs = 0, 0
    for _ in range(10):
        s = run_json(*args)
        total += s["changed"]
        runs += 1
        # A run cut short is not called complete; the last one is.
        left = s["segments_done"] < s["segments"]
        assert s["status"] == ("limited" if left else "complete"), (s["status"], s["segments_done"])
        if not left:
            break
    assert total == 250 and runs == 5, (total, runs)
    for it in C.scan(TABLE):
        assert int(it["count"]["N"]) == int(it["pk"]["S"][1:]) + 1, it


def case_errors_file():
    """An errors file that cannot be written stops the run before its
    first write."""
    items = load(n=100)
    p = ddbmig("run", "--table-name", TABLE, "-e", "item.x = 1; return item", "--yes", "--errors",
               "/nonexistent/dir/errors.jsonl", expect=2)
    assert "errors file" in p.stderr, p.stderr
    assert all("x" not in it for it in C.scan(TABLE)), "a refused run wrote something"
    assert len(items) == 100


def main():
    C.delete(TABLE)
    try:
        globals()["case_" + CASE]()
    finally:
        C.delete(TABLE)
    print("passed: " + CASE)


if __name__ == "__main__":
    main()
