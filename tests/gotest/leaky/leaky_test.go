// A package whose tests leak goroutines, for `strand trace -- go test` (tests/bpf/test_go_ci.py):
// fetch gives up on its worker after a millisecond and returns; the worker, done 10 ms
// later, blocks forever sending its result on an unbuffered channel. The tests pass: only
// strand can tell.
package leaky

import (
	"testing"
	"time"
)

func fetch(id int) int {
	out := make(chan int)
	go func() { // SITE: fetch
		time.Sleep(10 * time.Millisecond)
		out <- id * 2 // WAIT: fetch
	}()
	select {
	case v := <-out:
		return v
	case <-time.After(time.Millisecond):
		return -1
	}
}

func TestFetch(t *testing.T) {
	for i := 0; i < 5; i++ {
		if fetch(i) != -1 {
			t.Fatal("fetch should have given up")
		}
	}
}

// The leaked workers must be seen blocked past strand's threshold before the binary exits.
func TestLater(t *testing.T) {
	time.Sleep(4 * time.Second)
}
