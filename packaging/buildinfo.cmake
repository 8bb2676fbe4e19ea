# Writes OUT, the header that tells ddbmig --version which commit it was
# built from; run by the build every time (cmake -P), it rewrites OUT only
# when that changed, so that an unchanged tree rebuilds nothing.
#   SRC     the source tree
#   OUT     the header to write
#   COMMIT  the commit to name instead of asking git (a source tarball's
#           builder may know it: -DDDBMIG_GIT_COMMIT=...); optional
# Outside a git checkout of SRC itself (a tarball unpacked inside another
# repository, say) the commit is "unknown".
set(commit "unknown")
set(date "")
set(modified 0)
if(COMMIT)
  set(commit "${COMMIT}")
else()
  find_program(GIT_EXECUTABLE git)
  if(GIT_EXECUTABLE AND EXISTS "${SRC}/.git")
    execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" log -1 --abbrev=12 --format=%h%n%cs
                    OUTPUT_VARIABLE out RESULT_VARIABLE rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
    if(rc EQUAL 0 AND out MATCHES "^([0-9a-f]+)\n([0-9-]+)$")
      set(commit "${CMAKE_MATCH_1}")
      set(date "${CMAKE_MATCH_2}")
      # Tracked files that differ from the commit (untracked ones do not count).
      execute_process(COMMAND "${GIT_EXECUTABLE}" -C "${SRC}" diff --quiet HEAD --
                      RESULT_VARIABLE rc ERROR_QUIET)
      if(rc EQUAL 1)
        set(modified 1)
      endif()
    endif()
  endif()
endif()
set(text "/* Written by packaging/buildinfo.cmake at build time. */
#define DDBMIG_GIT_COMMIT \"${commit}\"
#define DDBMIG_GIT_DATE \"${date}\"
#define DDBMIG_GIT_MODIFIED ${modified}
")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL text)
  file(WRITE "${OUT}" "${text}")
endif()
