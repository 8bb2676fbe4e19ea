# ddbmig lambda, the custom runtime, behind a Runtime API emulator
# (tests/fakes/lambda_runtime.py) that runs it as Lambda would: segments
# need several invocations under a short deadline; the runtime killed
# mid-invocation is started again and the segment goes on from its cursor;
# events as numbers or numeric strings; bad events and another table are
# errors that say not to retry. A counter-increment script with --marker
# shows every item done exactly once.
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
. "$TESTS/integration/lib.sh"
. "$TESTS/integration/scale_lib.sh"
T=lambda_src_$$
C=lambda_ckpt_$$
cd "$TMP"
counter_table "$T" 3000

python3 "$DDBMIG_TESTS_DIR/fakes/lambda_runtime.py" --log "$TMP/rt.log" -- "$DDBMIG" lambda --endpoint-url "$EP" \
  -e 'item.n = item.n + 1; return item' --marker _l --migration-id L1 --checkpoint-table "$C" \
  --max-write-units 80 --lease-seconds 5 --no-pitr-check -q >"$TMP/rt.port" 2>"$TMP/rt.err" &
RT=$!
trap 'kill $RT 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 1 100); do [ -s "$TMP/rt.port" ] && break; sleep 0.1; done
RTURL="http://127.0.0.1:$(head -1 "$TMP/rt.port")"

python3 - "$RTURL" "$T" <<'PY' || fail "the invocations did not go as expected (see above)"
import json, sys, threading, time, urllib.request
url, table = sys.argv[1], sys.argv[2]

def invoke(event, timeout_ms=4000):
    req = urllib.request.Request(url + "/__invoke", json.dumps({"event": event, "timeout_ms": timeout_ms}).encode())
    return json.load(urllib.request.urlopen(req, timeout=120))

# Bad events and another table: errors not to retry.
bad = invoke({"segment": "x", "totalSegments": 8, "tableName": table})
assert bad.get("error", {}).get("errorType") == "Ddbmig.BadEvent", bad
other = invoke({"segment": 0, "totalSegments": 8, "tableName": "someOtherTable"})
assert other.get("error"), other
# An invocation too short to do anything is a configuration error, not an
# endless "not done" (the state machine would call it again forever).
short = invoke({"segment": 0, "totalSegments": 8, "tableName": table}, timeout_ms=2500)
assert short.get("error", {}).get("errorType") == "Ddbmig.ConfigError", short
assert "longer timeout" in short["error"]["errorMessage"], short

counts = {}
def run_segment(seg, as_strings):
    while True:
        ev = {"segment": str(seg), "totalSegments": "8", "tableName": table} if as_strings else \
             {"segment": seg, "totalSegments": 8, "tableName": table}
        t0 = time.time()
        ans = invoke(ev)
        print("segment %d: %.1f s: %s" % (seg, time.time() - t0, ans.get("result") or ans.get("error")), flush=True)
        counts[seg] = counts.get(seg, 0) + 1
        if "error" in ans:
            t = ans["error"]["errorType"]
            assert t in ("Ddbmig.Retryable", "Runtime.ExitError"), ans
            continue
        r = ans["result"]
        assert r["segment"] == seg and set(r) == {"segment", "scanned", "changed", "failed", "done"}, r
        assert r["failed"] == 0, r
        if r["done"]:
            return

# Segment 3 loses its runtime mid-invocation.
killer = threading.Thread(target=lambda: (time.sleep(1.5), urllib.request.urlopen(urllib.request.Request(url + "/__kill", b"{}"))))
killer.start()
run_segment(3, True)
killer.join()
for seg in (0, 1, 2, 4, 5, 6, 7):
    run_segment(seg, seg % 2 == 0)
state = json.load(urllib.request.urlopen(url + "/__state"))
kinds = [i["error"]["errorType"] for i in state["invocations"] if i["error"]]
print("invocations per segment:", counts, "errors:", kinds, "runtime starts:", state["starts"])
assert "Sandbox.Timedout" not in kinds, kinds          # the deadline was kept
assert "Runtime.ExitError" in kinds, kinds             # the kill happened mid-invocation
assert sum(counts.values()) > 8, counts                # a deadline short enough for several
assert any(n > 1 for seg, n in counts.items() if seg != 3), counts
assert state["starts"] >= 2 and not state["init_errors"], state["init_errors"]
PY

counts_are "$T" 3000 1 "the invocations"

# Without a checkpoint table the runtime cannot keep cursors: an init error.
python3 "$DDBMIG_TESTS_DIR/fakes/lambda_runtime.py" -- "$DDBMIG" lambda --endpoint-url "$EP" -e 'return item' \
  >"$TMP/rt2.port" 2>"$TMP/rt2.err" &
RT2=$!
for _ in $(seq 1 100); do [ -s "$TMP/rt2.port" ] && break; sleep 0.1; done
curl -sS -m 30 -X POST "http://127.0.0.1:$(head -1 "$TMP/rt2.port")/__invoke" \
  -d '{"event": {"segment": 0, "totalSegments": 1, "tableName": "'$T'"}, "timeout_ms": 3000}' >"$TMP/inv2.json"
grep -q 'Runtime.InitError' "$TMP/inv2.json" || fail "the invocation did not fail with the init error: $(cat "$TMP/inv2.json")"
curl -sS "http://127.0.0.1:$(head -1 "$TMP/rt2.port")/__state" >"$TMP/st2.json"
kill $RT2
grep -q 'needs --checkpoint-table' "$TMP/st2.json" || fail "no init error without --checkpoint-table: $(head -c 300 "$TMP/st2.json")"

ddb_api DeleteTable '{"TableName":"'$T'"}' >/dev/null
ddb_api DeleteTable '{"TableName":"'$C'"}' >/dev/null
finish
