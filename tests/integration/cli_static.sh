# The statically linked ddbmig (ddbmig-static, which make release ships):
# no dynamic section and no interpreter, --version and a real migration in
# an empty environment (host name from /etc/hosts through glibc's built-in
# lookup, no HOME), a proxy refused at once with the way out, and an
# `aws package` zip that carries no shared library. DDBMIG_STATIC names
# the binary (a release one, say); by default the build's ddbmig-static,
# which builds without sanitizers have. Skipped (77) when there is none.
# DDBMIG_STATIC_EMULATOR runs one of another architecture
# (qemu-aarch64-static: scripts/release --arch arm64).
. "$DDBMIG_TESTS_DIR/integration/lib.sh"
S=${DDBMIG_STATIC:-$(dirname "$DDBMIG")/ddbmig-static}
if [ ! -f "$S" ]; then
  echo "no static binary at $S (a sanitizer build has none): skipped"
  exit 77
fi
R=()
if [ -n "${DDBMIG_STATIC_EMULATOR:-}" ]; then
  R=("$(command -v "$DDBMIG_STATIC_EMULATOR")") || { echo "FAIL: no $DDBMIG_STATIC_EMULATOR"; exit 1; }
fi
T=cli_static_$$

# Static: no dynamic section, no program interpreter.
LC_ALL=C readelf -d "$S" >"$TMP/dyn" 2>&1
contains "$TMP/dyn" "There is no dynamic section in this file."
LC_ALL=C readelf -l "$S" | grep -q INTERP && fail "$S has a program interpreter"
file -L "$S" | grep -q 'statically linked' || fail "file: $(file -L "$S")"

# --version with nothing in the environment.
env -i "${R[@]}" "$S" --version >"$TMP/v" 2>&1 || fail "env -i --version: $(cat "$TMP/v")"
grep -Eq '^ddbmig [0-9]+\.[0-9]+\.[0-9]+$' "$TMP/v" || fail "--version: $(head -3 "$TMP/v")"
contains "$TMP/v" "statically linked"
contains "$TMP/v" "left out: proxies need the dynamically linked build"

# A migration: host name "localhost" (from /etc/hosts), credentials from
# the environment and nothing else, not even HOME or PATH.
LEP=$(printf '%s' "$EP" | sed 's|//127\.0\.0\.1:|//localhost:|')
ddb_api CreateTable '{"TableName":"'$T'","AttributeDefinitions":[{"AttributeName":"pk","AttributeType":"S"}],"KeySchema":[{"AttributeName":"pk","KeyType":"HASH"}],"BillingMode":"PAY_PER_REQUEST"}' >/dev/null
for i in $(seq 1 20); do
  ddb_api PutItem '{"TableName":"'$T'","Item":{"pk":{"S":"k'$i'"},"n":{"N":"'$i'"}}}' >/dev/null
done
senv() { env -i AWS_ACCESS_KEY_ID=AKIDSTATIC AWS_SECRET_ACCESS_KEY=static-secret AWS_EC2_METADATA_DISABLED=true "$@"; }
cd "$TMP" || exit 1
expect_exit 0 senv "${R[@]}" "$S" describe --endpoint-url "$LEP" --table-name "$T"
contains "$TMP/out" "Table:         $T (ACTIVE)"
expect_exit 0 senv "${R[@]}" "$S" run --endpoint-url "$LEP" --table-name "$T" -e 'item.n = item.n + 100; return item' \
  --marker _m --yes --quiet
expect_exit 0 senv "${R[@]}" "$S" verify --endpoint-url "$LEP" --table-name "$T" -e 'item.n = item.n + 100; return item' \
  --marker _m --quiet
ddb_api GetItem '{"TableName":"'$T'","Key":{"pk":{"S":"k7"}}}' >"$TMP/item"
contains "$TMP/item" '"n":{"N":"107"}'

# A proxy: this binary has no libcurl, so it says so at once (no retries).
start=$(date +%s)
expect_exit 4 senv https_proxy=http://127.0.0.1:9 "${R[@]}" "$S" describe --endpoint-url "$LEP" --table-name "$T"
contains "$TMP/err" "built without libcurl"
[ $(($(date +%s) - start)) -le 5 ] || fail "the proxy refusal took more than 5 s"
# DDBMIG_HTTP=native goes around the proxy, as in the dynamic build.
expect_exit 0 senv https_proxy=http://127.0.0.1:9 DDBMIG_HTTP=native "${R[@]}" "$S" describe --endpoint-url "$LEP" --table-name "$T"

# aws package from the static binary: nothing in lib/, and the bundle runs.
printf 'function migrate(item, ctx)\n  return item\nend\n' >"$TMP/m.lua"
expect_exit 0 "${R[@]}" "$S" aws package --script "$TMP/m.lua" --output "$TMP/f.zip"
contains "$TMP/err" "0 shared libraries"
python3 - "$TMP/f.zip" "$TMP/u" <<'PY' || fail "the static package"
import os, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
names = z.namelist()
assert names[0] == "bootstrap" and "ddbmig" in names and "script.lua" in names, names
assert not any(n.startswith("lib/") for n in names), names
z.extractall(sys.argv[2])
for i in z.infolist():
    os.chmod(os.path.join(sys.argv[2], i.filename), (i.external_attr >> 16) & 0o777)
PY
if [ ${#R[@]} -eq 0 ]; then
  out=$(cd "$TMP/u" && env -i ./bootstrap --version 2>&1) || fail "bootstrap --version: $out"
else # bootstrap's exec needs the kernel to run the binary itself
  out=$(cd "$TMP/u" && env -i "${R[@]}" ./ddbmig --version 2>&1) || fail "ddbmig --version: $out"
fi
case "$out" in "ddbmig "*"statically linked"*) ;; *) fail "bootstrap --version said: $out" ;; esac

ddb_api DeleteTable '{"TableName":"'$T'"}' >/dev/null
finish
