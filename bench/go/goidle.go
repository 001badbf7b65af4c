// goidle: an idle process with N parked goroutines (each blocked on a channel receive
// nothing will ever send on, as leaked goroutines are), for strand's scale runs: how much
// memory strand takes for them, and how long it takes to snapshot them at attach. Prints
// "ready N" once all are parked, then waits for a signal.
//
//	goidle N
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"syscall"
)

//go:noinline
func park(ch chan struct{}, wg *sync.WaitGroup) {
	wg.Done()
	<-ch
}

func main() {
	n := 100000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	ch := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(n)
	for i := 0; i < n; i++ {
		go park(ch, &wg)
	}
	wg.Wait()
	runtime.Gosched()
	fmt.Println("ready", n)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	<-sigs
}
