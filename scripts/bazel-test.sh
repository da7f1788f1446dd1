#!/usr/bin/env bash
# Builds trialog with Bazel (bazel_compat/, Debian's Bazel 4.2.3, offline) and runs the tests of
# the given areas; default: all (every target except the clang-only fuzzers, and every test).
# Areas are top-level directories (core, storage, server, client, tools, witness, export,
# tamper, reliability, interop) plus proto (a check that the generated gRPC stubs link and
# run). Installs bazel-bootstrap and the Debian libraries first if missing.
#
#   scripts/bazel-test.sh                 # every target and test
#   scripts/bazel-test.sh core storage proto   # only core/, storage/ and the proto check
#   scripts/bazel-test.sh core            # one area
#   BAZEL_FLAGS="--jobs=1" scripts/bazel-test.sh      # extra flags for bazel test
#
# Compiled results are also kept in a disk cache shared by every checkout on the machine
# (BAZEL_DISK_CACHE, default ~/.cache/trialog-bazel-disk; empty to disable), so a fresh clone
# (as in CI) does not recompile what another checkout already did. Bazel 4 never trims it:
# delete the directory to reclaim space (it holds about 100 MB per distinct build).
#
# First checks that bazel_compat/trialog.BUILD still mirrors every CMake target
# (scripts/bazel-check-targets.sh); a difference fails the run unless BAZEL_ALLOW_DRIFT=1.
#
# Ends with "bazel: N passed, M failed, K skipped" counting test cases (from each test's
# test.xml; a test binary that failed to build or crashed without a report counts as one
# failure). Exit status 0 only if everything built and passed. With CI set, shuts the Bazel server down at the end.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
start=$(date +%s%N)

bash "$root/scripts/install-deps.sh"
bash "$root/scripts/install-bazel.sh"

areas=("$@")
if ((${#areas[@]} == 0)); then areas=(all); fi

cd "$root/bazel_compat"
flags=(--color=no --curses=no)
if [ -n "${CI:-}" ]; then flags+=(--show_progress_rate_limit=30); fi
disk_cache=${BAZEL_DISK_CACHE-$HOME/.cache/trialog-bazel-disk}
test_flags=()
if [ -n "$disk_cache" ]; then test_flags+=(--disk_cache="$disk_cache"); fi
# BAZEL_FLAGS go to `bazel test` only: query and info reject build flags such as --jobs.
# shellcheck disable=SC2206  # BAZEL_FLAGS is a list of flags, split on spaces on purpose
test_flags+=(${BAZEL_FLAGS:-})

if [ "${areas[*]}" = "all" ]; then
  filter=()
  query='tests(@trialog//... + //...)'
else
  tags=$(IFS=,; echo "${areas[*]}")
  filter=(--build_tag_filters="$tags" --test_tag_filters="$tags")
  query="attr(tags, '\\b($(IFS='|'; echo "${areas[*]}"))\\b', tests(@trialog//... + //...))"
fi

status=0
drift=0
bash "$root/scripts/bazel-check-targets.sh" || drift=$?

bazel test --keep_going "${flags[@]}" "${test_flags[@]}" "${filter[@]}" -- @trialog//... //... || status=$?

# Count test cases from the reports of the tests that were selected.
passed=0 failed=0 skipped=0
testlogs=$(bazel info "${flags[@]}" bazel-testlogs 2>/dev/null)
while read -r label; do
  [ -n "$label" ] || continue
  case "$label" in
    @*) repo=${label%%//*}; rest=${label#*//}; dir="external/${repo#@}/${rest%%:*}" ;;
    *) rest=${label#//}; dir="${rest%%:*}" ;;
  esac
  xml="$testlogs/${dir:+$dir/}${label##*:}/test.xml"
  xml=${xml//\/\//\/}
  # gtest writes <testsuites tests=.. failures=..>; for a script (sh_test) Bazel writes a bare
  # <testsuites> around one <testsuite tests="1" ...>.
  line=$(grep -m1 -o '<testsuites [^>]*>' "$xml" 2>/dev/null ||
         grep -m1 -o '<testsuite [^>]*>' "$xml" 2>/dev/null || true)
  if [ -z "$line" ]; then
    echo "bazel-test: no report for $label" >&2
    failed=$((failed + 1))
    continue
  fi
  attr() { local v; v=$(grep -o " $1=\"[0-9]*\"" <<<"$line" | grep -o '[0-9]\+' || true); echo "${v:-0}"; }
  n=$(attr tests) f=$(attr failures) e=$(attr errors) d=$(attr disabled)
  # GTEST_SKIP()ped cases: inside tests=, but counted only per <testsuite skipped="..">.
  k=$(grep -o '<testsuite [^>]* skipped="[0-9]*"' "$xml" | grep -o '[0-9]*"$' | tr -d '"' |
      awk '{s += $1} END {print s + 0}') || true
  passed=$((passed + n - f - e - d - k))
  failed=$((failed + f + e))
  skipped=$((skipped + k))
done < <(bazel query "${flags[@]}" "$query" 2>/dev/null)

if [ -n "${CI:-}" ]; then bazel shutdown; fi
end=$(date +%s%N)
echo "bazel-test: ${areas[*]} in $(( (end - start) / 1000000000 )) s"
if ((status == 4)); then
  echo "bazel-test: no test targets in ${areas[*]}" >&2
elif ((status != 0 && failed == 0)); then
  failed=1
elif ((passed + failed == 0)); then
  echo "bazel-test: found no test reports (did bazel query fail?)" >&2
  failed=1 status=1
fi
echo "bazel: $passed passed, $failed failed, $skipped skipped"
if ((status == 0 && drift != 0)) && [ "${BAZEL_ALLOW_DRIFT:-0}" != 1 ]; then
  echo "bazel-test: trialog.BUILD is out of step with CMake (see above; BAZEL_ALLOW_DRIFT=1 to ignore)" >&2
  status=1
fi
exit "$status"
