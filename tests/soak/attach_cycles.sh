#!/bin/bash
# 300 attach/detach cycles of the release strand (./strand) on a running sync.test
# (build/targets/gostd, make targets); the suite must pass, no BPF link or uprobe left.
cd "$(dirname "$0")/../.."
build/targets/gostd/sync.test -test.short -test.count=600 > "${TMPDIR:-/tmp}"/strand-cycles.out 2>&1 &
T=$!
sleep 0.3
ok=0; bad=0
for i in $(seq 300); do
  if ./strand trace -p $T --for 100ms -q --json -o /dev/null 2>>"${TMPDIR:-/tmp}"/strand-cycles.err; then ok=$((ok+1)); else bad=$((bad+1)); fi
  kill -0 $T 2>/dev/null || break
done
links=$(bpftool -j link show | python3 -c "import json,sys; print(len(json.load(sys.stdin)))")
wait $T; rc=$?
echo "cycles ok=$ok bad=$bad; suite rc=$rc: $(tail -1 "${TMPDIR:-/tmp}"/strand-cycles.out); bpf links left: $links; uprobe_events lines: $(wc -l < /sys/kernel/tracing/uprobe_events)"
