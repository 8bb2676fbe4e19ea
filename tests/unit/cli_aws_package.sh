# ddbmig aws package: a zip Lambda can run on provided.al2023 (glibc 2.34)
# whatever the build machine: bootstrap executable, ddbmig and its shared
# libraries but not the C library, no symbol needing a glibc newer than
# 2.34, and the unpacked bundle runs --version with an empty environment
# and serves the Runtime API from DDBMIG_LAMBDA_ARGS.
set -u
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
TMP=$(mktemp -d)
RT=
trap '[ -n "$RT" ] && kill $RT 2>/dev/null; rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
command -v objdump >/dev/null || { echo "FAIL: objdump (binutils) is not installed"; exit 1; }

printf 'function migrate(item, ctx)\n  return item\nend\n' >"$TMP/m.lua"
"$DDBMIG" aws package --script "$TMP/m.lua" --output "$TMP/f.zip" 2>"$TMP/err" || fail "package: $(cat "$TMP/err")"
python3 - "$TMP/f.zip" "$TMP/u" <<'PY' || fail "the zip is not what Lambda needs"
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None                      # every CRC right
names = z.namelist()
assert names[0] == "bootstrap" and "ddbmig" in names and "script.lua" in names, names
libs = [n for n in names if n.startswith("lib/")]
assert any(n.startswith("lib/libcurl.so") for n in libs) and any(n.startswith("lib/libcrypto.so") for n in libs), libs
assert not any(os.path.basename(n).startswith(("libc.so", "libm.so", "ld-linux", "libpthread.so")) for n in libs), libs
for i in z.infolist():
    mode = (i.external_attr >> 16) & 0o777
    want = 0o755 if i.filename in ("bootstrap", "ddbmig") else 0o644
    assert mode == want, (i.filename, oct(mode))
z.extractall(sys.argv[2])
for i in z.infolist():
    os.chmod(os.path.join(sys.argv[2], i.filename), (i.external_attr >> 16) & 0o777)
PY
# No file may need a glibc symbol version above 2.34. (A sanitizer build
# links the sanitizers' runtimes, which do; such a build is never shipped.)
if ls "$TMP/u"/lib/libasan* "$TMP/u"/lib/libubsan* >/dev/null 2>&1; then
  echo "a sanitizer build: the glibc 2.34 check applies to release builds; skipped"
else
  for f in "$TMP/u/ddbmig" "$TMP/u"/lib/*; do
    objdump -T "$f" 2>/dev/null | awk '$0 ~ /\*UND\*/ && match($0, /GLIBC_[0-9.]+/) { v = substr($0, RSTART + 6, RLENGTH - 6); split(v, p, "."); if (p[1] > 2 || (p[1] == 2 && p[2] > 34)) print FILENAME": "$0 }' FILENAME="$f" >>"$TMP/newer"
  done
fi
[ ! -s "$TMP/newer" ] || fail "symbols newer than glibc 2.34: $(head -5 "$TMP/newer")"
out=$(cd "$TMP/u" && env -i ./bootstrap --version 2>&1) || fail "bootstrap --version in an empty environment: $out"
case "$out" in "ddbmig "*) ;; *) fail "bootstrap --version said: $out" ;; esac

# The bundle as Lambda runs it: no arguments, options in DDBMIG_LAMBDA_ARGS.
export AWS_ACCESS_KEY_ID=AKIDPACKAGETEST AWS_SECRET_ACCESS_KEY=package-test-secret AWS_REGION=us-east-1
export DDBMIG_LAMBDA_ARGS='["--endpoint-url","http://127.0.0.1:9","--script","script.lua","--checkpoint-table","ckpt"]'
(cd "$TMP/u" && exec python3 "$TESTS/fakes/lambda_runtime.py" -- ./bootstrap) >"$TMP/rt.port" 2>"$TMP/rt.err" &
RT=$!
for _ in $(seq 1 100); do [ -s "$TMP/rt.port" ] && break; sleep 0.1; done
ans=$(curl -sS -m 30 -X POST "http://127.0.0.1:$(head -1 "$TMP/rt.port")/__invoke" \
  -d '{"event": {"segment": "-1", "totalSegments": 4, "tableName": "orders"}, "timeout_ms": 5000}')
case "$ans" in *Ddbmig.BadEvent*) ;; *) fail "the packaged runtime answered: $ans $(tail -3 "$TMP/rt.err")" ;; esac
grep -q 'package-test-secret' "$TMP/rt.err" && fail "the secret key appears in the runtime's log"
[ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
