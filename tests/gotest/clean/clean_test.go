// The control of tests/gotest/leaky: the same test, with a result channel of capacity 1, so
// every worker delivers and exits whether fetch waited for it or not.
package clean

import (
	"context"
	"testing"
)

func fetch(ctx context.Context, id int) (int, error) {
	out := make(chan int, 1)
	go func() {
		out <- id * 2
	}()
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	return <-out, nil
}

func TestFetch(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i := 0; i < 5; i++ {
		if _, err := fetch(ctx, i); err == nil {
			t.Fatal("fetch should have given up")
		}
	}
}
