// The control of tests/gotest/leaky: the same tests, with a result channel of capacity 1, so
// every worker delivers and exits whether fetch waited for it or not.
package clean

import (
	"testing"
	"time"
)

func fetch(id int) int {
	out := make(chan int, 1)
	go func() {
		time.Sleep(10 * time.Millisecond)
		out <- id * 2
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

func TestLater(t *testing.T) {
	time.Sleep(2500 * time.Millisecond)
}
