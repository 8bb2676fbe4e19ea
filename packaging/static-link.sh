#!/usr/bin/env bash
# Runs the link of ddbmig-static (RULE_LAUNCH_LINK in src/CMakeLists.txt)
# and drops the warnings glibc attaches to functions that need its shared
# NSS or dlopen machinery in a static program, each with the "in
# function" line before it; everything else the linker says passes
# through, and its exit code is kept. Those warnings are expected, and
# answered:
#   getaddrinfo     main.c limits host lookups to the "files" and "dns"
#                   modules, which static glibc has built in;
#   gethostbyname,  in OpenSSL's BIO and DSO code, which ddbmig does not
#   dlopen          reach (no engines, no BIO connect; the sandbox opens
#                   no Lua package library, so no C module is loaded).
out=$("$@" 2>&1)
rc=$?
if [ -n "$out" ]; then
  printf '%s\n' "$out" | awk '
    / in function `/ { held = $0; next }
    /warning: Using .* in statically linked applications requires at runtime/ { held = ""; next }
    { if (held != "") print held; held = ""; print }
    END { if (held != "") print held }' >&2
fi
exit $rc
