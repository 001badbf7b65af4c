// gochurn: goroutine lifecycle workloads for strand's benchmarks. After a 2 s pause (so a
// tracer started with the program has attached its probes), it runs one workload and prints
// its own elapsed time, which is what the benchmark compares.
//
//	gochurn spawn N     N goroutines created and exited, in batches of 64 (create + exit)
//	gochurn pingpong N  N round trips between two goroutines over unbuffered channels
//	                    (each round trip parks and readies both: 2 park + 2 ready)
package main

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"time"
)

func spawn(n int) {
	var wg sync.WaitGroup
	for i := 0; i < n; i += 64 {
		wg.Add(64)
		for k := 0; k < 64; k++ {
			go wg.Done()
		}
		wg.Wait()
	}
}

func pingpong(n int) {
	ping, pong := make(chan int), make(chan int)
	go func() {
		for v := range ping {
			pong <- v
		}
		close(pong)
	}()
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	close(ping)
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: gochurn spawn|pingpong N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "bad N:", os.Args[2])
		os.Exit(2)
	}
	time.Sleep(2 * time.Second)
	start := time.Now()
	switch os.Args[1] {
	case "spawn":
		spawn(n)
	case "pingpong":
		pingpong(n)
	default:
		fmt.Fprintln(os.Stderr, "unknown workload", os.Args[1])
		os.Exit(2)
	}
	fmt.Printf("%s %d in %.4f s\n", os.Args[1], n, time.Since(start).Seconds())
}
