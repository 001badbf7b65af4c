#!/usr/bin/env bash
# make demo: start the bundled leaky service, let it run a moment, trace it, report.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/demo
gcc -g -O2 -pthread demo/leaky_service.c -o build/demo/leaky_service

build/demo/leaky_service &
demo_pid=$!
trap 'kill "$demo_pid" 2>/dev/null; wait "$demo_pid" 2>/dev/null || true' EXIT
sleep 1
echo "strand: tracing the demo service (pid $demo_pid) for 5 seconds, threshold 2 s"
echo
# exit status 10 says stranded threads were found: that is what the demo is for
./strand trace -p "$demo_pid" --for 5s --threshold 2s --no-live || [ $? -eq 10 ]
