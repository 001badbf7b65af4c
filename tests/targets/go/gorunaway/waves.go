// Modes waves (overlapping waves of pollers, scenario 6) and syscall (goroutines pinning OS
// threads in read(2), scenario 8) of gorunaway.
package main

import (
	"flag"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// --- waves: a ticker spawns pollers that outlive its period ---------------------------------

//go:noinline
func poll(life time.Duration, live *atomic.Int64) {
	time.Sleep(life) // WAIT: poller
	live.Add(-1)
}

//go:noinline
func pollInWaves(period time.Duration, size int, life time.Duration, waves int) {
	var live atomic.Int64
	t := time.NewTicker(period)
	for w := 1; waves == 0 || w <= waves; w++ {
		for i := 0; i < size; i++ {
			live.Add(1)
			go poll(life, &live) // SITE: poller
		}
		fmt.Println("wave", w, "live", live.Load())
		<-t.C // WAIT: waves
	}
}

func modeWaves(fs *flag.FlagSet) func() {
	period := fs.Duration("period", 300*time.Millisecond, "time between waves")
	size := fs.Int("size", 50, "pollers per wave")
	life := fs.Duration("life", 3*time.Second, "each poller's lifetime")
	waves := fs.Int("waves", 0, "waves in all (0: no end)")
	return func() { startWaves(*period, *size, *life, *waves) }
}

//go:noinline
func startWaves(period time.Duration, size int, life time.Duration, waves int) {
	go pollInWaves(period, size, life, waves) // SITE: waves
}

// --- syscall: each goroutine blocked in read(2) holds an OS thread --------------------------

//go:noinline
func blockInRead(fd int, entering, returned *atomic.Int64) {
	var b [1]byte
	entering.Add(1)
	syscall.Read(fd, b[:]) // WAIT: sysread
	returned.Add(1)
}

//go:noinline
func startReaders(fd, n int, entering, returned *atomic.Int64) {
	for i := 0; i < n; i++ {
		go blockInRead(fd, entering, returned) // SITE: sysread
	}
}

// releaseReaders writes a byte per reader after a while, and waits for the reads to return.
//
//go:noinline
func releaseReaders(fd, n int, after time.Duration, returned *atomic.Int64) {
	time.Sleep(after)
	syscall.Write(fd, make([]byte, n))
	waitFor(func() bool { return returned.Load() == int64(n) })
	fmt.Println("released", n)
}

func threads() int {
	d, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return 0
	}
	return len(d)
}

func modeSyscall(fs *flag.FlagSet) func() {
	n := fs.Int("n", 50, "goroutines blocked in read(2)")
	release := fs.Duration("release", 0, "write the pipe after this long (0: never)")
	return func() {
		var p [2]int
		if err := syscall.Pipe(p[:]); err != nil { // blocking ends: no netpoller
			fmt.Fprintln(os.Stderr, "gorunaway: pipe:", err)
			os.Exit(1)
		}
		var entering, returned atomic.Int64
		startReaders(p[0], *n, &entering, &returned)
		// Each read holds its M; the runtime starts another for the Ps they leave.
		waitFor(func() bool { return entering.Load() == int64(*n) && threads() >= *n+2 })
		time.Sleep(20 * time.Millisecond)
		fmt.Println("blocked", *n, "threads", threads())
		if *release > 0 {
			go releaseReaders(p[1], *n, *release, &returned) // SITE: release
		}
	}
}
