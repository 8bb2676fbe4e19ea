#!/usr/bin/env python3
"""The migration engine end to end: `ddbmig run` against DynamoDB Local,
checked through an independent client (tools/ddb.py).

usage: test_engine.py DDBMIG TESTS_DIR ENDPOINT CASE
"""
import json
import os
import random
import signal
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
TABLE = "eng_%s_%d" % (CASE, os.getpid())

# Non-idempotent on purpose: applied twice, an item would show +2000.
SHIFT = """
function migrate(item, ctx)
  if item.v1 then return nil end
  item.count = item.count + 1000
  item.v1 = true
  return item
end
"""
INCREMENT = "function migrate(item, ctx) item.count = item.count + 1; return item end\n"


def script(name, text):
    path = os.path.join(WORK, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def ddbmig(*args, endpoint=ENDPOINT, expect=None, timeout=900):
    cmd = [DDBMIG] + list(args) + ["--endpoint-url", endpoint]
    p = subprocess.run(cmd, cwd=WORK, env=ENV, capture_output=True, text=True, timeout=timeout)
    if expect is not None and p.returncode != expect:
        raise AssertionError("%s exited %d, expected %d\nstdout: %s\nstderr: %s" % (
            " ".join(args), p.returncode, expect, p.stdout[-3000:], p.stderr[-3000:]))
    return p


def summary(p):
    return json.loads(p.stdout)


def counted_items(n):
    return [{"pk": {"S": "k%05d" % i}, "count": {"N": str(i)}, "pad": {"S": "x" * 50}} for i in range(n)]


def check_shifted(items, extra=None):
    extra = extra or {}
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    assert len(got) == len(items), "%d items, expected %d" % (len(got), len(items))
    for it in items:
        k = it["pk"]["S"]
        want = int(it["count"]["N"]) + 1000 + extra.get(k, 0)
        assert got[k].get("v1") == {"BOOL": True}, got[k]
        assert int(got[k]["count"]["N"]) == want, (k, got[k]["count"], want)


def case_scale():
    """100,000 items over 16 segments: each migrated exactly once; verify
    finds none left; a second run writes nothing."""
    data = os.path.join(WORK, "orders.jsonl.gz")
    subprocess.run([sys.executable, os.path.join(TESTS, "tools", "gen_items.py"), "100000", data], check=True)
    C.create(TABLE, "pk")
    p = ddbmig("import", "--table-name", TABLE, "--file", data, expect=0)
    assert "Imported 100000 items" in p.stdout, p.stdout
    add = os.path.join(TESTS, "..", "examples", "add-updated-at.lua")
    s = summary(ddbmig("run", "--table-name", TABLE, "--script", add, "--total-segments", "16", "--yes",
                       "--quiet", "--output", "json", expect=0))
    assert s["segments"] == 16 and s["segments_done"] == 16, s
    assert s["scanned"] == 100000 and s["changed"] == 100000 and s["writes"] == 100000, s
    assert s["failed"] == 0 and len(s["per_segment"]) == 16, s
    assert sum(x["scanned"] for x in s["per_segment"]) == 100000, s
    stamps = set()
    n = 0
    for it in C.scan(TABLE):
        n += 1
        stamps.add(it["updatedAt"]["S"])
    assert n == 100000 and len(stamps) == 1, (n, stamps)
    v = summary(ddbmig("verify", "--table-name", TABLE, "--script", add, "--quiet", "--output", "json", expect=0))
    assert v["left"] == 0 and v["scanned"] == 100000, v
    again = summary(ddbmig("run", "--table-name", TABLE, "--script", add, "--yes", "--quiet", "--output", "json",
                           expect=0))
    assert again["changed"] == 0 and again["writes"] == 0 and again["write_units"] == 0, again


def case_concurrent():
    """An application updates random items during the run: none of its
    updates is lost, every item ends migrated exactly once."""
    items = counted_items(3000)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    done = threading.Event()
    increments = {}
    errors = []

    def app(seed):
        rnd = random.Random(seed)
        client = ddb.Client(ENDPOINT)
        while not done.is_set():
            k = "k%05d" % rnd.randrange(len(items))
            try:
                client.update(TABLE, {"pk": {"S": k}}, "ADD #c :one", {":one": {"N": "1"}}, {"#c": "count"})
            except Exception as e:  # noqa: BLE001
                errors.append(e)
                return
            with lock:
                increments[k] = increments.get(k, 0) + 1

    lock = threading.Lock()
    threads = [threading.Thread(target=app, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    # A write cap stretches the run over about ten seconds, so that the
    # application's writes land between the scan of an item and its write.
    s = summary(ddbmig("run", "--table-name", TABLE, "--script", script("shift.lua", SHIFT), "--yes", "--quiet",
                       "--output", "json", "--total-segments", "8", "--page-size", "100",
                       "--max-write-units", "300", expect=0))
    during = sum(increments.values())
    done.set()
    for t in threads:
        t.join()
    assert not errors, errors
    assert during > 100, "the application made too few writes during the run to matter"
    assert s["changed"] == 3000 and s["failed"] == 0, s
    print("application writes: %d, conflicts resolved: %d" % (sum(increments.values()), s["conflicts"]))
    assert s["conflicts"] > 0, "no concurrent write ever met the migration: the test proves nothing"
    check_shifted(items, increments)


def start_proxy(*faults):
    p = subprocess.Popen([sys.executable, os.path.join(TESTS, "fakes", "fault_proxy.py"), ENDPOINT] + list(faults),
                         stdout=subprocess.PIPE, text=True)
    port = int(p.stdout.readline())
    return p, "http://127.0.0.1:%d" % port


def proxy_stats(url):
    import urllib.request
    return json.loads(urllib.request.urlopen(url + "/__stats").read())


def case_faults():
    """Throttling, 500/503, dropped connections (before and after the
    write), delays and partial batches: nothing lost, nothing doubled."""
    items = counted_items(2000)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    proxy, url = start_proxy("--seed", "7", "--throttle", "0.04", "--e500", "0.03", "--e503", "0.03",
                             "--drop", "0.02", "--drop-after", "0.03", "--delay", "0.02:300",
                             "--partial-batch", "0.5")
    try:
        s = summary(ddbmig("run", "--table-name", TABLE, "--script", script("shift.lua", SHIFT), "--yes",
                           "--quiet", "--output", "json", "--total-segments", "8", "--page-size", "200",
                           "--max-attempts", "30", endpoint=url, expect=0))
        assert s["changed"] + s["unchanged"] == 2000 and s["failed"] == 0, s
        assert s["throttled"] > 0 and s["retries"] > 0, s
        check_shifted(items)
        # A copy into another table through BatchWriteItem, with partial batches.
        target = TABLE + "_copy"
        C.create(target, "pk")
        c = summary(ddbmig("run", "--table-name", TABLE, "--target-table-name", target, "-e", "return item",
                           "--yes", "--quiet", "--output", "json", "--max-attempts", "30", endpoint=url, expect=0))
        assert c["scanned"] == 2000, c
        copied = {it["pk"]["S"]: it for it in C.scan(target)}
        source = {it["pk"]["S"]: it for it in C.scan(TABLE)}
        assert copied == source, "the copy differs from the source"
        st = proxy_stats(url)
        print("injected:", st)
        for k in ("throttle", "e500", "e503", "drop", "drop_after", "delay", "partial_batch"):
            assert st[k] > 0, "no %s was injected" % k
        C.delete(target)
    finally:
        proxy.terminate()
        proxy.wait()


def case_kill():
    """kill -9 at random moments, then --resume, again and again: with
    --marker a counter increment is applied exactly once per item."""
    items = counted_items(3000)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    inc = script("inc.lua", INCREMENT)
    # The write cap makes the run last several seconds, so kills land mid-run.
    args = ["run", "--table-name", TABLE, "--script", inc, "--marker", "_mig", "--yes", "--quiet",
            "--total-segments", "8", "--page-size", "50", "--max-write-units", "400", "--endpoint-url", ENDPOINT]
    rnd = random.Random(3)
    kills = 0
    for round_ in range(40):
        cmd = [DDBMIG] + args + (["--resume"] if round_ else [])
        p = subprocess.Popen(cmd, cwd=WORK, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            out, err = p.communicate(timeout=rnd.uniform(0.3, 1.5))
        except subprocess.TimeoutExpired:
            p.send_signal(signal.SIGKILL)
            p.communicate()
            kills += 1
            continue
        if p.returncode == 2 and "no unfinished run" in err:
            break  # it had finished just before the kill
        assert p.returncode == 0, (p.returncode, err)
        break
    assert kills >= 2, "killed only %d times" % kills
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    for it in items:
        g = got[it["pk"]["S"]]
        assert int(g["count"]["N"]) == int(it["count"]["N"]) + 1, (it["pk"], g["count"])
        assert g["_mig"]["S"].startswith("m-"), g
    print("killed %d times; every item incremented exactly once" % kills)


def case_interrupt():
    """SIGINT: in-flight writes finish, the checkpoint is saved, the resume
    command is printed, exit 130; --resume completes the job."""
    items = counted_items(3000)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    sh = script("shift.lua", SHIFT)
    args = ["run", "--table-name", TABLE, "--script", sh, "--yes", "--total-segments", "8", "--page-size", "50",
            "--endpoint-url", ENDPOINT]
    p = subprocess.Popen([DDBMIG] + args, cwd=WORK, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(1.0)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    assert "resume with: ddbmig run" in err and "--resume" in err, err
    assert "progress is saved in" in err, err
    r = ddbmig(*(args[:-2] + ["--resume", "--quiet"]), expect=0)
    check_shifted(items)


def case_interrupt_faults():
    """SIGINT while statements are throttled one by one (their updates go
    again alone) and answers are lost: those updates finish with the ones
    in flight, so --resume goes on after exactly the items done, and a
    script that is not idempotent still applies once to every item."""
    items = counted_items(1500)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    proxy, url = start_proxy("--seed", "7", "--key-range-throttle", "0.2", "--throttle", "0.05",
                             "--drop-after", "0.02")
    try:
        args = ["run", "--table-name", TABLE, "--script", script("inc.lua", INCREMENT), "--yes", "--quiet",
                "--total-segments", "8", "--page-size", "100", "--max-write-units", "150", "--max-attempts", "30",
                "--endpoint-url", url]
        stops = 0
        for round_ in range(3):
            p = subprocess.Popen([DDBMIG] + args + (["--resume"] if round_ else []), cwd=WORK, env=ENV,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            time.sleep(2.5)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=300)
            if p.returncode == 0:
                break  # done before the signal
            assert p.returncode == 130, (p.returncode, err[-2000:])
            stops += 1
        else:
            p = subprocess.run([DDBMIG] + args + ["--resume"], cwd=WORK, env=ENV, capture_output=True, text=True,
                               timeout=600)
            assert p.returncode == 0, (p.returncode, p.stderr[-2000:])
        st = proxy_stats(url)
    finally:
        proxy.terminate()
        proxy.wait()
    assert stops >= 1, "the run ended before any interrupt: the test proves nothing"
    assert st["key_range_throttle"] > 0, st
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    twice = [k for k, it in got.items() if int(it["count"]["N"]) != int(k[1:]) + 1]
    assert not twice, "%d items not incremented exactly once, e.g. %s" % (len(twice), twice[:5])
    print("%d interrupts; every item incremented exactly once" % stops)


def check_incremented(by, label):
    """Every item of TABLE holds its original count plus `by`."""
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    wrong = sorted(k for k, it in got.items() if int(it["count"]["N"]) != int(k[1:]) + by)
    assert not wrong, "%s: %d items not incremented exactly once, e.g. %s" % (
        label, len(wrong), ["%s: +%d" % (k, int(got[k]["count"]["N"]) - int(k[1:])) for k in wrong[:8]])


def deadline_loop(args, checkpoint_has_keys):
    """Runs args with --time-limit until a run completes; returns how many
    stopped at the deadline and how many of those left keys done past a
    cursor (checkpoint_has_keys says after each stop)."""
    stops = with_keys = 0
    for round_ in range(60):
        # A stop during the checks before the first write leaves no file.
        resume = "--checkpoint-table" not in args and os.path.isdir(os.path.join(WORK, ".ddbmig")) and any(
            n.endswith(".json") for n in os.listdir(os.path.join(WORK, ".ddbmig")))
        p = subprocess.run([DDBMIG] + args + (["--resume"] if resume else []),
                           cwd=WORK, env=ENV, capture_output=True, text=True, timeout=300)
        if p.returncode == 0:
            return stops, with_keys
        assert p.returncode == 3, (p.returncode, p.stderr[-2000:])
        stops += 1
        with_keys += checkpoint_has_keys()
    raise AssertionError("not done after 60 runs of --time-limit")


def file_has_keys():
    for name in os.listdir(os.path.join(WORK, ".ddbmig")):
        if name.endswith(".json"):
            with open(os.path.join(WORK, ".ddbmig", name)) as f:
                doc = json.load(f)
            if any(s.get("done_keys") for s in doc["segments"]):
                return True
    return False


def case_deadline_faults():
    """--time-limit again and again while a third of the writes are
    throttled: a write whose backoff would pass the deadline is given up,
    and items after it, already sent, finish. The checkpoint (file, then
    checkpoint table) records those past the cursor, so that a script that
    is not idempotent still applies once to every item, without --marker."""
    items = counted_items(1500)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    ctable = TABLE + "_cp"
    proxy, url = start_proxy("--seed", "11", "--throttle", "0.35", "--key-range-throttle", "0.1")
    try:
        base = ["run", "--table-name", TABLE, "--script", script("inc.lua", INCREMENT), "--yes", "--quiet",
                "--total-segments", "8", "--page-size", "100", "--max-write-units", "150", "--time-limit", "4",
                "--endpoint-url", url]
        stops, with_keys = deadline_loop(base, file_has_keys)
        check_incremented(1, "file")
        print("checkpoint file: %d stops at the deadline, %d with keys done past a cursor" % (stops, with_keys))
        assert stops >= 2, "the run ended before its time limit: the test proves nothing"

        def table_has_keys():
            return any("done_keys" in it for it in C.scan(ctable))
        stops2, with_keys2 = deadline_loop(base + ["--checkpoint-table", ctable], table_has_keys)
        check_incremented(2, "table")
        print("checkpoint table: %d stops at the deadline, %d with keys done past a cursor" % (stops2, with_keys2))
        assert stops2 >= 2, "the run ended before its time limit: the test proves nothing"
        assert with_keys + with_keys2 > 0, "no stop left items finished past a cursor: the test proves nothing"
    finally:
        proxy.terminate()
        proxy.wait()
        C.delete(ctable)


def file_doubts():
    n = 0
    for name in os.listdir(os.path.join(WORK, ".ddbmig")):
        if name.endswith(".json"):
            with open(os.path.join(WORK, ".ddbmig", name)) as f:
                n += sum(len(s.get("in_doubt", [])) for s in json.load(f)["segments"])
    return n


def case_deadline_lost():
    """--time-limit again and again while 40% of requests are throttled
    and 40% of answers are lost after the write is done: a write given up
    at the stop with no answer is in doubt. Its record goes with the
    checkpoint (file, then checkpoint table), and the resume finds it
    applied or not, so a script that is not idempotent still applies once
    to every item, without --marker."""
    items = counted_items(1500)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    ctable = TABLE + "_cp"
    proxy, url = start_proxy("--seed", "9", "--throttle", "0.4", "--drop-after", "0.4")
    try:
        base = ["run", "--table-name", TABLE, "--script", script("inc.lua", INCREMENT), "--yes", "--quiet",
                "--total-segments", "8", "--page-size", "100", "--max-write-units", "150", "--time-limit", "3",
                "--max-attempts", "30", "--endpoint-url", url]
        seen = []
        stops, _ = deadline_loop(base, lambda: seen.append(file_doubts()) or False)
        check_incremented(1, "file")
        print("checkpoint file: %d stops, writes in doubt recorded: %s" % (stops, seen))

        # The checkpoint table meets the same faults: milder ones, and a
        # short lease, so that a last save given up is taken over soon.
        proxy.terminate()
        proxy.wait()
        proxy, url = start_proxy("--seed", "4", "--throttle", "0.3", "--drop-after", "0.2")
        base[base.index("--endpoint-url") + 1] = url
        base[base.index("--time-limit") + 1] = "6"  # the checks before the first write take their share

        def table_doubts():
            seen.append(sum(len(json.loads(it["in_doubt"]["S"])) for it in C.scan(ctable) if "in_doubt" in it))
            return False
        seen = []
        stops, _ = deadline_loop(base + ["--checkpoint-table", ctable, "--lease-seconds", "10"], table_doubts)
        check_incremented(2, "table")
        print("checkpoint table: %d stops, writes in doubt recorded: %s" % (stops, seen))
    finally:
        proxy.terminate()
        proxy.wait()
        C.delete(ctable)


def case_deadline_slow():
    """--time-limit again and again while a third of the answers take 1.3
    s, longer than a write sent just before the stop has: such a write is
    given up unanswered, recorded as in doubt, and the resume finds it
    applied, so each item is incremented exactly once without --marker."""
    items = counted_items(300)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    proxy, url = start_proxy("--seed", "1", "--delay", "0.3:1300")
    try:
        args = ["run", "--table-name", TABLE, "--script", script("inc.lua", INCREMENT), "--yes", "--quiet",
                "--total-segments", "1", "--page-size", "50", "--workers", "1", "--writes-in-flight", "4",
                "--no-partiql", "--time-limit", "4", "--endpoint-url", url]
        stops, _ = deadline_loop(args, lambda: False)
    finally:
        proxy.terminate()
        proxy.wait()
    assert stops >= 2, "the run ended before its time limit: the test proves nothing"
    check_incremented(1, "slow answers")
    print("%d stops at the deadline; every item incremented exactly once" % stops)


def case_deadline_checks():
    """The time limit met during the checks before the first write (an
    endpoint that hangs on DescribeTable): a resumable stop (exit 3) with
    a summary that says stopped and not done, nothing written, and the same
    command then does the whole job."""
    items = counted_items(200)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    proxy, url = start_proxy("--stall", "DescribeTable")
    args = ["run", "--table-name", TABLE, "--script", script("inc.lua", INCREMENT), "--yes", "--output", "json",
            "--time-limit", "3"]
    try:
        p = ddbmig(*args, endpoint=url, expect=3)
    finally:
        proxy.terminate()
        proxy.wait()
    s = summary(p)
    assert s["status"] == "stopped" and s["done"] is False and s["changed"] == 0, s
    assert "the time limit came during the checks before the first write" in p.stderr, p.stderr
    assert all(int(it["count"]["N"]) == int(it["pk"]["S"][1:]) for it in C.scan(TABLE)), "it wrote"
    s = summary(ddbmig(*args, expect=0))
    assert s["changed"] == 200 and s["done"] is True, s
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    assert all(int(it["count"]["N"]) == int(k[1:]) + 1 for k, it in got.items())


def case_checkpoint_keys():
    """The keys a checkpoint holds (the cursor, and those done past it)
    are checked against the table's key schema: another attribute, another
    type or a malformed key is refused naming the file, the segment and the
    key, with nothing written. Keys done past the cursor are passed over by
    the resume, and only those."""
    items = counted_items(300)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    args = ["run", "--table-name", TABLE, "-e", "item.count = item.count + 1; return item", "--yes",
            "--quiet", "--output", "json", "--total-segments", "1", "--page-size", "40"]
    s = summary(ddbmig(*args, "--limit", "100", expect=0))
    assert s["scanned"] == 100, s
    [name] = checkpoints()
    path = os.path.join(WORK, ".ddbmig", name)
    with open(path) as f:
        good = json.load(f)
    assert good["segments"][0]["start_key"], good
    before = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    bad = [("start_key", {"id": {"S": "k00001"}}, "names 'id', which is not a key attribute"),
           ("start_key", {"pk": {"N": "1"}}, "'pk' is of type N; the table's is S"),
           ("done_keys", [{"pk": {"S": "k00001"}}, {"pk": {"S": "k00002"}, "x": {"S": "1"}}],
            "segment 0's done_keys[1]: a key names 'x'"),
           ("done_keys", [{"pk": {"SS": ["k00001"]}}], "not S, N or B"),
           ("done_keys", [{"pk": "k00001"}], "not DynamoDB JSON")]
    for field, value, why in bad:
        doc = json.loads(json.dumps(good))
        doc["segments"][0][field] = value
        with open(path, "w") as f:
            json.dump(doc, f)
        p = ddbmig(*args, expect=2)
        assert name in p.stderr and why in p.stderr, (why, p.stderr)
        assert {it["pk"]["S"]: it for it in C.scan(TABLE)} == before, "a refused checkpoint wrote: " + why
    # Two items not yet migrated, recorded as done past the cursor: passed
    # over, neither run nor counted; every other item once.
    todo = sorted(k for k, it in before.items() if int(it["count"]["N"]) == int(k[1:]))
    skip = todo[5:7]
    doc = json.loads(json.dumps(good))
    doc["segments"][0]["done_keys"] = [{"pk": {"S": k}} for k in skip]
    with open(path, "w") as f:
        json.dump(doc, f)
    s = summary(ddbmig(*args, expect=0))
    assert s["scanned"] == 198, s
    got = {it["pk"]["S"]: it for it in C.scan(TABLE)}
    for k, it in got.items():
        want = int(k[1:]) + (0 if k in skip else 1)
        assert int(it["count"]["N"]) == want, (k, it["count"], want)


def case_ctable_keys():
    """A segment item of the checkpoint table with an attribute of another
    type (a cursor as a map, done keys as a list, a count as a string) or
    a key not of the table is refused before anything is written (exit 2,
    naming the item); done keys stored as the table writes them are passed
    over."""
    items = counted_items(200)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    ctable = TABLE + "_cp"
    args = ["run", "--table-name", TABLE, "-e", "item.count = item.count + 1; return item", "--yes",
            "--quiet", "--output", "json", "--total-segments", "2", "--page-size", "10",
            "--checkpoint-table", ctable]
    try:
        s = summary(ddbmig(*args, "--limit", "15", expect=0))
        assert s["scanned"] == 15, s
        segs = {it["id"]["S"]: it for it in C.scan(ctable) if "segment" in it}
        seg0 = [it for it in segs.values() if it["segment"]["N"] == "0"][0]
        assert "cursor" in seg0, seg0
        before = {it["pk"]["S"]: it for it in C.scan(TABLE)}
        cursor = seg0["cursor"]["S"]
        bad = [("cursor", {"M": {"pk": {"S": "k00001"}}}, "its cursor is not a string (S)"),
               ("cursor", {"S": json.dumps({"pk": {"N": "1"}})}, "'pk' is of type N; the table's is S"),
               ("done_keys", {"L": [{"S": cursor}]}, "its done_keys is not a string (S)"),
               ("done_keys", {"S": "[{}]"}, "its done_keys"),
               ("done_keys", {"S": json.dumps([{"pk": {"S": "k00001"}, "x": {"N": "1"}}])}, "names 'x'"),
               ("scanned", {"S": "5"}, "its scanned is not a whole number"),
               ("version", {"S": "3"}, "its version is not a whole number")]
        for name, value, why in bad:
            item = dict(seg0)
            item[name] = value
            C.put(ctable, item)
            p = ddbmig(*args, expect=2)
            assert why in p.stderr and "segment 0's item in the checkpoint table" in p.stderr, (why, p.stderr)
            assert {it["pk"]["S"]: it for it in C.scan(TABLE)} == before, "a refused run wrote: " + why
        # Two items not yet migrated of segment 0, recorded as done past
        # its cursor as the table writes them: passed over.
        todo = [k for k, it in before.items() if int(it["count"]["N"]) == int(k[1:])]
        item = dict(seg0)
        C.put(ctable, item)
        ddbmig(*args, "--segments", "0", "--limit", "1", expect=0)  # which items are segment 0's
        after = {it["pk"]["S"]: it for it in C.scan(TABLE)}
        seg0_item = [k for k in todo if int(after[k]["count"]["N"]) != int(before[k]["count"]["N"])]
        assert len(seg0_item) == 1, seg0_item
        seg0 = [it for it in C.scan(ctable) if it.get("segment", {}).get("N") == "0"][0]
        rest = [k for k in todo if k not in seg0_item]
        # Keys of either segment may be listed: only segment 0's can match.
        skip = rest[:40]
        seg0["done_keys"] = {"S": json.dumps([{"pk": {"S": k}} for k in skip])}
        C.put(ctable, seg0)
        s = summary(ddbmig(*args, expect=0))
        final = {it["pk"]["S"]: it for it in C.scan(TABLE)}
        passed = [k for k in skip if int(final[k]["count"]["N"]) == int(k[1:])]
        assert passed, "no listed key was passed over"
        for k, it in final.items():
            want = int(k[1:]) + (0 if k in passed else 1)
            assert int(it["count"]["N"]) == want, (k, it["count"], want)
        assert s["scanned"] + 16 + len(passed) == 200, (s["scanned"], len(passed))
    finally:
        C.delete(ctable)


def case_busy_interrupt():
    """SIGINT while the script is busy on one item: the script stops at its
    next instruction count, the item is not an item error (its page is not
    checkpointed, so a resume would run it again), and the run exits 130."""
    items = counted_items(200)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    # Comparing two equal 1 MiB strings is one instruction: the item stays
    # busy for hours within its instruction limit.
    busy = script("busy.lua", "function migrate(item, ctx)\n"
                              "  if item.count == 77 then\n"
                              "    local a = string.rep('x', 1 << 20)\n"
                              "    local b = a:sub(2) .. 'x'\n"
                              "    local n = 0\n"
                              "    while true do if a == b then n = n + 1 end end\n"
                              "  end\n"
                              "  return nil\n"
                              "end\n")
    errors = os.path.join(WORK, "errors.jsonl")
    args = ["run", "--table-name", TABLE, "--script", busy, "--yes", "--total-segments", "4", "--errors", errors,
            "--endpoint-url", ENDPOINT]
    p = subprocess.Popen([DDBMIG] + args, cwd=WORK, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    time.sleep(3.0)
    assert p.poll() is None, "the run ended before the interrupt: %s" % p.stderr.read()
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=120)
    assert p.returncode == 130, (p.returncode, err)
    assert not os.path.exists(errors) or open(errors).read() == "", open(errors).read()
    assert "progress is saved in" in err, err


def table_snapshot():
    return sorted(json.dumps(it, sort_keys=True) for it in C.scan(TABLE))


def case_errors():
    """Bad input: a clear message, the documented exit code, and nothing
    written where nothing should be."""
    items = counted_items(300)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    before = table_snapshot()
    bad = script("bad.lua", "function migrate(item, ctx)\n  return item +\nend\n")
    p = ddbmig("run", "--table-name", TABLE, "--script", bad, "--yes", expect=2)
    assert "bad.lua:3:" in p.stderr, p.stderr
    p = ddbmig("run", "--table-name", TABLE + "_missing", "-e", "return item", "--yes", expect=2)
    assert "does not exist" in p.stderr, p.stderr
    p = ddbmig("run", "--table-name", TABLE, "-e", "return item", "--write-mode", "sideways", "--yes", expect=2)
    assert "--write-mode must be update, put or batch" in p.stderr, p.stderr
    p = ddbmig("run", "--table-name", TABLE, "--yes", expect=2)
    assert "--script FILE or as -e CODE" in p.stderr, p.stderr
    p = ddbmig("run", "--table-name", TABLE, "-e", "item.x = 1; return item", "--yes",
               "--checkpoint", "/nonexistent/dir/cp.json", expect=2)
    assert "cannot write the checkpoint" in p.stderr, p.stderr
    p = ddbmig("run", "--table-name", TABLE, "-e", "item.x = 1; return item", expect=2)  # no --yes, no terminal
    assert "needs --yes" in p.stderr, p.stderr
    assert table_snapshot() == before, "a refused run wrote something"

    # A runtime error on some items: the others are migrated, exit 1, and
    # the errors file names each failed item with the Lua traceback.
    some = script("some.lua", "function migrate(item, ctx)\n"
                              "  if item.count % 50 == 0 then error('cannot handle ' .. item.pk) end\n"
                              "  item.ok = true\n  return item\nend\n")
    errors = os.path.join(WORK, "errors.jsonl")
    s = summary(ddbmig("run", "--table-name", TABLE, "--script", some, "--yes", "--quiet", "--output", "json",
                       "--errors", errors, expect=1))
    assert s["failed"] == 6 and s["changed"] == 294, s
    lines = [json.loads(l) for l in open(errors)]
    assert len(lines) == 6, lines
    for rec in lines:
        assert "some.lua:2: cannot handle" in rec["error"] and "stack traceback" in rec["error"], rec
        assert rec["key"]["pk"]["S"] == rec["item"]["pk"]["S"], rec
    # --max-errors: stop early, resumably (exit 3).
    bad_all = script("bad_all.lua", "function migrate(item, ctx)\n"
                                    "  if ctx.probe then return nil end\n  error('always')\nend\n")
    p = ddbmig("run", "--table-name", TABLE, "--script", bad_all, "--yes", "--quiet", "--max-errors", "5",
               "--errors", errors, "--workers", "1", expect=3)
    assert "stopped after 5 per-item errors" in p.stderr and "resume with" in p.stderr, p.stderr
    # Resuming with a different script is refused.
    p = ddbmig("run", "--table-name", TABLE, "--script", bad_all, "--checkpoint",
               os.path.join(WORK, ".ddbmig", "%s-%s.json" % (TABLE, "m-x")), "--resume", "--yes", expect=2)
    cp = [f for f in os.listdir(os.path.join(WORK, ".ddbmig")) if f.endswith(".json")]
    stopped = [f for f in cp if "stopped" in open(os.path.join(WORK, ".ddbmig", f)).read()]
    assert stopped, cp
    other = script("other.lua", "function migrate(item, ctx) return nil end\n")
    p = ddbmig("run", "--table-name", TABLE, "--script", other, "--checkpoint",
               os.path.join(WORK, ".ddbmig", stopped[0]), "--resume", "--yes", expect=2)
    assert "resuming with a different script is refused" in p.stderr, p.stderr


def check_rounded(text, places):
    """Each number of the named fields is printed with at most its number
    of decimals (0.202, not 0.20200000000000001)."""
    import re
    seen = set()
    for name, value in re.findall(r'"([a-z_]+)": (-?[0-9][0-9.eE+-]*)', text):
        if name in places:
            seen.add(name)
            decimals = len(value.split(".")[1]) if "." in value else 0
            assert "e" not in value.lower() and decimals <= places[name], (name, value, text[:2000])
    assert seen == set(places), (set(places) - seen, text[:2000])


def checkpoints():
    d = os.path.join(WORK, ".ddbmig")
    return sorted(f for f in os.listdir(d) if f.endswith(".json")) if os.path.isdir(d) else []


def case_preflight():
    """A filter DynamoDB refuses, or malformed names/values, is a usage
    error before any write and leaves no checkpoint: the corrected command
    runs without --resume. The first SIGINT during the checks before the
    first write, against an endpoint that hangs, stops them at once (exit
    130), with nothing written and no checkpoint."""
    items = counted_items(200)
    C.create(TABLE, "pk")
    C.put_all(TABLE, items)
    before = table_snapshot()
    mark = "item.seen = true; return item"
    base = ["--table-name", TABLE, "-e", mark, "--quiet"]
    bad = [
        (["--filter-expression", "#c >"], ["--expression-attribute-names", '{"#c": "count"}'],
         "--filter-expression is refused by DynamoDB"),
        (["--filter-expression", "#c > :lo"], ["--expression-attribute-names", '{"#c": "count"}'],
         "--expression-attribute-values is refused by DynamoDB"),
        (["--filter-expression", "#c > :lo"], ["--expression-attribute-names", '{"#c": "count"}',
                                               "--expression-attribute-values", '{":lo": {"N": "1"}, ":hi": {"N": "2"}}'],
         "--expression-attribute-values is refused by DynamoDB"),
        (["--filter-expression", "#c > :lo"], ["--expression-attribute-values", '{":lo": {"N": "1"}}'],
         "--expression-attribute-names is refused by DynamoDB"),
        (["--filter-expression", "#c > :lo"], ["--expression-attribute-names", '{"#c": "count",}'],
         "--expression-attribute-names is not valid JSON"),
        (["--filter-expression", "#c > :lo"], ["--expression-attribute-names", '["count"]'],
         "--expression-attribute-names must be a JSON object"),
        (["--filter-expression", "#c > :lo"], ["--expression-attribute-names", '{"#c": "count"}',
                                               "--expression-attribute-values", '{":lo": 1}'],
         'the value of ":lo" must be an attribute value'),
        (["--filter-expression", "#c > :lo"], ["--expression-attribute-names", '{"#c": "count"} x',
                                               "--expression-attribute-values", '{":lo": {"N": "1"}}'],
         "--expression-attribute-names is not valid JSON"),
    ]
    for cmd in ("run", "verify"):
        for filt, extra, words in bad:
            args = [cmd] + base + filt + extra + (["--yes"] if cmd == "run" else [])
            p = ddbmig(*args, expect=2)
            assert words in p.stderr, (args, p.stderr)
            assert checkpoints() == [], checkpoints()
    # DynamoDB's own words come through.
    p = ddbmig("run", *base, "--filter-expression", "#c >", "--expression-attribute-names", '{"#c": "count"}',
               "--yes", expect=2)
    assert "Invalid FilterExpression" in p.stderr, p.stderr
    assert table_snapshot() == before, "a refused run wrote something"
    # The corrected command runs at once, without --resume.
    p = ddbmig("run", *base, "--filter-expression", "#c >= :lo", "--expression-attribute-names",
               '{"#c": "count"}', "--expression-attribute-values", '{":lo": {"N": "150"}}', "--yes",
               "--output", "json", expect=0)
    s = summary(p)
    assert s["scanned"] == 50 and s["changed"] == 50, s
    check_rounded(p.stdout, {"elapsed_s": 3, "items_per_s": 1, "read_units": 1, "write_units": 1, "skew": 2,
                             "seconds": 3})
    data = os.path.join(WORK, "pre.jsonl")
    for cmd in ("export", "import"):
        p = ddbmig(cmd, "--table-name", TABLE, "--file", data, "--output", "json", expect=0)
        assert json.loads(p.stdout)["items"] == 200, p.stdout
        check_rounded(p.stdout, {"elapsed_s": 3, "items_per_s": 1, "capacity_units": 1})

    # Interrupts while a request of each pre-flight step hangs.
    before = table_snapshot()
    existing = checkpoints()
    for op, extra in (("DescribeTable", []), ("Scan", ["--filter-expression", "attribute_exists(pk)"]),
                      ("DescribeContinuousBackups", [])):
        proxy, url = start_proxy("--stall", op)
        try:
            cmd = [DDBMIG, "run", "--table-name", TABLE, "-e", "item.late = true; return item", "--yes",
                   "--endpoint-url", url] + extra
            p = subprocess.Popen(cmd, cwd=WORK, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 120
            while proxy_stats(url)["stall"] == 0:
                assert p.poll() is None and time.monotonic() < deadline, "never reached %s" % op
                time.sleep(0.05)
            p.send_signal(signal.SIGINT)
            out, err = p.communicate(timeout=60)
        finally:
            proxy.terminate()
            proxy.wait()
        assert p.returncode == 130, (op, p.returncode, err)
        assert "interrupted before the first write; nothing was written" in err, (op, err)
        assert checkpoints() == existing, (op, checkpoints())
    assert table_snapshot() == before, "an interrupted run wrote something"
    # Nothing stands in the way of the same command now.
    ddbmig("run", "--table-name", TABLE, "-e", "item.late = true; return item", "--yes", "--quiet", expect=0)
    assert all(it.get("late") == {"BOOL": True} for it in C.scan(TABLE))


def main():
    C.delete(TABLE)
    try:
        globals()["case_" + CASE]()
    finally:
        C.delete(TABLE)
    print("passed: " + CASE)


if __name__ == "__main__":
    main()
