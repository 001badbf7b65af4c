// A package whose tests leak goroutines, for `strand trace -- go test` (tests/bpf/test_go_ci.py):
// fetch starts a worker, then returns early when its context is done, before reading the
// worker's result; the worker blocks forever sending it on an unbuffered channel. The test
// passes: only strand (or goleak, had the test called it) can tell. The binary exits as soon
// as its test ends: strand reads what it leaves on its way out.
package leaky

import (
	"context"
	"runtime"
	"strings"
	"testing"
)

func fetch(ctx context.Context, id int) (int, error) {
	out := make(chan int)
	go func() { // SITE: fetch
		out <- id * 2 // WAIT: fetch
	}()
	if err := ctx.Err(); err != nil {
		return 0, err // the early return that leaks the worker
	}
	return <-out, nil
}

// parkedSenders counts the goroutines parked sending on a channel. The test waits for all
// five workers to park, so that how many strand finds at the exit is exact, not a race
// with the workers' first instructions. One buffer for every look: a megabyte a look would
// keep the garbage collector busy, and a stack it is scanning when the process exits is
// one strand cannot read.
func parkedSenders(buf []byte) int {
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "[chan send]")
}

func TestFetch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 5; i++ {
		if _, err := fetch(ctx, i); err == nil {
			t.Fatal("fetch should have given up")
		}
	}
	buf := make([]byte, 1<<20)
	for parkedSenders(buf) < 5 {
		runtime.Gosched()
	}
}
