// goheap: a heap of MiB MiB of linked nodes (a pointer in every one: what a walk follows),
// LEAKS goroutines parked each on a channel only it holds (what a walk proves lost), and a
// worker that keeps allocating and linking for SECONDS, then prints "ops N": the work done,
// for strand's heap-walk benchmark (bench/gowalk.py). Prints "ready" once the leaks parked.
//
//	goheap MiB LEAKS SECONDS
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"
)

type node struct {
	next *node
	pad  [56]byte
}

var heap *node

func leak() {
	ch := make(chan int)
	go func() { ch <- 1 }()
}

func parked() int {
	buf := make([]byte, 1<<20)
	return strings.Count(string(buf[:runtime.Stack(buf, true)]), "[chan send]")
}

func main() {
	mib, _ := strconv.Atoi(os.Args[1])
	leaks, _ := strconv.Atoi(os.Args[2])
	secs, _ := strconv.Atoi(os.Args[3])
	for i := 0; i < mib<<20/64; i++ {
		heap = &node{next: heap}
	}
	for i := 0; i < leaks; i++ {
		leak()
	}
	for parked() < leaks {
		runtime.Gosched()
	}
	fmt.Println("ready")
	ops, end := 0, time.Now().Add(time.Duration(secs)*time.Second)
	var churn *node
	for time.Now().Before(end) {
		for k := 0; k < 1000; k++ {
			churn = &node{next: churn}
			if k == 999 {
				churn = nil
			}
		}
		ops++
	}
	fmt.Println("ops", ops)
}
