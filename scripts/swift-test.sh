#!/usr/bin/env bash
# Runs the Swift suites and keeps their output in .build/swift-test.log. When a test fails, the
# failures are printed again at the very end, so that the tail of a long log (all CI keeps) names them.
set -uo pipefail
cd "$(dirname "$0")/.."
mkdir -p .build
log=.build/swift-test.log
"${SWIFT:-swift}" test --parallel "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
if [ "$status" -ne 0 ]; then
  echo
  echo "==== Swift tests failed (exit $status); the failures, from $log:"
  grep -a -E "✘|recorded an issue|error:|Fatal error|Expectation failed|Caught error" "$log" | grep -a -v "^.*✘ Test run with" | head -80
  grep -a -E "✘ Test run with" "$log" | tail -1
fi
exit "$status"
