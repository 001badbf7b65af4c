#!/usr/bin/env bash
# make demo: start the bundled leaky services, let them run a moment, trace each, report.
# A C service that leaks one thread per request, then a Go API (stripped, as services ship)
# that leaks one goroutine per webhook.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p build/demo
gcc -g -O2 -pthread demo/leaky_service.c -o build/demo/leaky_service
GOCACHE="$PWD/build/gocache" GO111MODULE=off CGO_ENABLED=0 \
	/usr/lib/go-1.19/bin/go build -ldflags='-s -w' -o build/demo/leaky_api demo/leaky_api.go

pids=()
trap 'kill "${pids[@]}" 2>/dev/null; wait "${pids[@]}" 2>/dev/null || true' EXIT

# exit status 10 says stranded tasks were found: that is what the demo is for
trace() {
	local pid=$1
	shift
	./strand trace -p "$pid" --for 5s --threshold 2s --no-live "$@" || [ $? -eq 10 ]
}

build/demo/leaky_service &
pids+=($!)
sleep 1
echo "strand: tracing the C demo service (pid ${pids[0]}) for 5 seconds, threshold 2 s"
echo
trace "${pids[0]}"

build/demo/leaky_api >/dev/null &
pids+=($!)
sleep 2
echo
echo "strand: tracing the Go demo API (pid ${pids[1]}, a stripped binary) for 5 seconds,"
echo "        recorded to build/demo/leaky_api.strand"
echo
rm -f build/demo/leaky_api*.strand
trace "${pids[1]}" --record build/demo/leaky_api-first.strand >/dev/null
trace "${pids[1]}" --record build/demo/leaky_api.strand

# the postmortem, from the recording alone: a flame graph, a pprof profile, and what grew
# since the first recording
./strand report --svg build/demo/leaky_api.svg --pprof build/demo/leaky_api.pb.gz \
	build/demo/leaky_api.strand
echo
./strand report --base build/demo/leaky_api-first.strand build/demo/leaky_api.strand
echo
echo "strand: from the recording, a flame graph: build/demo/leaky_api.svg (open it in a browser),"
echo "        a pprof profile: go tool pprof -top build/demo/leaky_api.pb.gz"
