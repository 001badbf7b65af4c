// goleak: goroutine scenarios for strand's snapshot tests (scenarios 9 and 17, and a
// healthy pool), with the protocol of the C targets: print "ready", wait for SIGUSR1
// (unless --now), run the mode, print "blocked N", hold until SIGTERM and exit 0.
//
//	goleak MODE [--now]
//
// Modes and what strand must report:
//
//	chan     5 goroutines, each blocked forever in `chan receive` on a per-request channel
//	         nobody sends on or closes; created at SITE: chan in main.handleRequest
//	forever  2 goroutines in `select (no cases)` (SITE: select) and 1 receiving from a nil
//	         channel (SITE: nilchan): the runtime says these can never end: stranded
//	pool     4 workers ranging over a jobs channel fed every 100 ms: no stranded goroutine
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

//go:noinline
func worker(results chan int) {
	<-results // WAIT: chan
}

//go:noinline
func handleRequest(id int) {
	results := make(chan int) // nobody ever sends: the request gave up on it
	go worker(results)        // SITE: chan
}

//go:noinline
func spawnForever() {
	for i := 0; i < 2; i++ {
		go func() { select {} }() // SITE: select
	}
	var never chan int
	go func() { <-never }() // SITE: nilchan
}

//go:noinline
func startPool(jobs chan int) {
	for i := 0; i < 4; i++ {
		go func() { // SITE: pool
			for range jobs {
			}
		}()
	}
	go func() {
		for {
			time.Sleep(100 * time.Millisecond)
			jobs <- 1
		}
	}()
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goleak MODE [--now]")
		os.Exit(2)
	}
	now := len(os.Args) > 2 && os.Args[2] == "--now"
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	fmt.Println("ready")
	if !now && <-sigs == syscall.SIGTERM {
		os.Exit(0)
	}
	n := 0
	switch os.Args[1] {
	case "chan":
		for id := 0; id < 5; id++ {
			handleRequest(id)
		}
		n = 5
	case "forever":
		spawnForever()
		n = 3
	case "pool":
		startPool(make(chan int))
		n = 5
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(2)
	}
	time.Sleep(200 * time.Millisecond) // the goroutines reach their waits
	fmt.Println("blocked", n)
	for s := range sigs {
		if s == syscall.SIGTERM {
			os.Exit(0)
		}
	}
}
