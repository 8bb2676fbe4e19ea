# make install (cmake --install of the build DDBMIG is in, into a DESTDIR,
# nothing rebuilt): the binary, the man page, the bash and zsh completions.
# The man page renders and shows every command and every option the
# option tables have; the bash completion completes commands, options and
# choices, and offers exactly the options each command takes; the zsh one
# parses (when zsh is installed). --version names the commit and the
# libraries; __complete stays out of --help.
set -u
TESTS=${DDBMIG_TESTS_DIR:-$(cd "$(dirname "$0")/.." && pwd)}
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
build=$(cd "$(dirname "$DDBMIG")" && pwd)
root=$TMP/root

DESTDIR=$root cmake --install "$build" --prefix /usr >"$TMP/install.log" 2>&1 ||
  fail "cmake --install: $(tail -5 "$TMP/install.log")"
bin=$root/usr/bin/ddbmig
man=$root/usr/share/man/man1/ddbmig.1
bashc=$root/usr/share/bash-completion/completions/ddbmig
zshc=$root/usr/share/zsh/site-functions/_ddbmig
for f in "$bin" "$man" "$bashc" "$zshc"; do
  [ -s "$f" ] || fail "not installed: ${f#$root}"
done
[ -x "$bin" ] || fail "${bin#$root} is not executable"
if [ "$failures" -ne 0 ]; then
  echo "$failures failed"
  exit 1
fi

# --version: the version first, then the commit and the libraries.
"$bin" --version >"$TMP/version" 2>&1 || fail "--version: $(cat "$TMP/version")"
head -1 "$TMP/version" | grep -Eq '^ddbmig [0-9]+\.[0-9]+\.[0-9]+$' || fail "--version's first line: $(head -1 "$TMP/version")"
for w in 'commit:' glibc libcurl OpenSSL jansson Lua zlib 'built with' 'running with'; do
  grep -q -- "$w" "$TMP/version" || fail "--version does not name $w: $(cat "$TMP/version")"
done
commit=$(sed -n 's/^commit: *\([0-9a-f]*\).*/\1/p' "$TMP/version")
if git -C "$TESTS/.." rev-parse --git-dir >/dev/null 2>&1; then
  # Built from this checkout: a commit of it (HEAD when nothing was committed since the build).
  [ -n "$commit" ] && git -C "$TESTS/.." cat-file -e "$commit^{commit}" 2>/dev/null ||
    fail "--version names no commit of this checkout: $(sed -n 2p "$TMP/version")"
fi
"$bin" --help | grep -q __complete && fail "--help shows __complete"

# The man page renders, and shows every command and every option.
if ! command -v man >/dev/null; then
  fail "man is not installed (scripts/install-deps installs man-db)"
else
  LC_ALL=C MANWIDTH=100 man -l "$man" >"$TMP/man.txt" 2>"$TMP/man.err" || fail "man -l: $(head -5 "$TMP/man.err")"
  [ -s "$TMP/man.err" ] && fail "man -l warned: $(head -5 "$TMP/man.err")"
  grep -q "^DDBMIG(1)" "$TMP/man.txt" || fail "man page header: $(head -2 "$TMP/man.txt")"
  grep -qF "$(head -1 "$TMP/version")" "$TMP/man.txt" || fail "the man page does not name $(head -1 "$TMP/version")"
  for c in $("$bin" __complete | cut -f1 | grep -v -e '^-' -e '^help$'); do
    grep -q "^DDBMIG $(echo "$c" | tr a-z A-Z)\$" "$TMP/man.txt" || fail "no section for $c in the man page"
    for o in $("$bin" __complete "$c" | cut -f1 | grep '^-'); do
      grep -qe "$o\\b" "$TMP/man.txt" || fail "$c's option $o is not in the man page"
    done
  done
  grep -qF 'the table to migrate or check (required)' "$TMP/man.txt" || fail "run's help text is not in the man page"
fi

# bash: commands, options and choices, and for each command exactly the
# options it takes.
cat >"$TMP/complete.bash" <<'SH'
. "$1"
complete_line() { # WORD...: what the completion offers for the last word
  COMP_WORDS=("$@")
  COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
  COMPREPLY=()
  _ddbmig
  printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ' | sed 's/ $//'
}
shift
complete_line "$@"
SH
comp() { bash "$TMP/complete.bash" "$bashc" "$@"; }
[ "$(comp ddbmig ru)" = run ] || fail "'ddbmig ru' completes to '$(comp ddbmig ru)', not run"
[ "$(comp ddbmig run --table)" = --table-name ] || fail "'ddbmig run --table' completes to '$(comp ddbmig run --table)'"
[ "$(comp ddbmig run --write-mode "")" = "batch put update" ] || fail "run --write-mode offers '$(comp ddbmig run --write-mode "")'"
[ "$(comp ddbmig capacity pre)" = prewarm ] || fail "'ddbmig capacity pre' completes to '$(comp ddbmig capacity pre)'"
[ "$(comp ddbmig help ver)" = verify ] || fail "'ddbmig help ver' completes to '$(comp ddbmig help ver)'"
[ -z "$(comp ddbmig run --table-name "")" ] || fail "a table name is completed with '$(comp ddbmig run --table-name "")'"
for c in $("$bin" __complete | cut -f1 | grep -v -e '^-' -e '^help$'); do
  want=$("$bin" __complete "$c" | cut -f1 | grep '^-' | sort -u | tr '\n' ' ' | sed 's/ $//')
  args=(ddbmig "$c")
  [ -n "$("$bin" __complete "$c" | cut -f1 | grep -v '^-')" ] && args+=(sub)
  got=$(comp "${args[@]}" -)
  [ "$got" = "$want" ] || fail "bash offers $c: '$got', the table has '$want'"
done

# zsh: the file parses; completing needs an interactive zsh, left out.
if command -v zsh >/dev/null; then
  zsh -n "$zshc" || fail "zsh -n ${zshc#$root}"
  head -1 "$zshc" | grep -q '^#compdef ddbmig$' || fail "${zshc#$root} lacks #compdef"
else
  echo "zsh is not installed: ${zshc#$root} only checked for presence"
fi

[ "$failures" -eq 0 ] && echo "all passed" || { echo "$failures failed"; exit 1; }
