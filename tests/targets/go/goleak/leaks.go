// Leaks of channels, contexts, WaitGroups, mutexes and memory: modes range, timeout,
// timeoutbuf, early, warmer, wg, mutex, deadlock, retain (see goleak.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// --- range: a worker ranging over a per-request channel nobody closes ------------------------

//go:noinline
func rangeWorker(jobs chan int) {
	for job := range jobs { // WAIT: range
		_ = job
	}
}

//go:noinline
func handleJobs(njobs int, returned *atomic.Int64) {
	jobs := make(chan int)
	go rangeWorker(jobs) // SITE: range
	for j := 0; j < njobs; j++ {
		jobs <- j
	}
	returned.Add(1) // and returns, without close(jobs)
}

//go:noinline
func startJobRequests(n int, returned *atomic.Int64) {
	for i := 1; i <= n; i++ {
		go handleJobs(i, returned) // SITE: rangereq
	}
}

func modeRange(fs *flag.FlagSet) func() {
	n := fs.Int("n", 4, "requests (request i sends i jobs)")
	return func() {
		var returned atomic.Int64
		startJobRequests(*n, &returned)
		waitFor(func() bool { return returned.Load() == int64(*n) })
		time.Sleep(50 * time.Millisecond) // the last worker is back in its receive
		fmt.Println("blocked", *n)
	}
}

// --- timeout, timeoutbuf: fetchWithTimeout with an unbuffered result channel, and fixed ------

//go:noinline
func slowLookup(id int, d time.Duration) int {
	time.Sleep(d)
	return id * 2
}

//go:noinline
func fetchWithTimeout(ctx context.Context, id int, sending *atomic.Int64) (int, error) {
	ch := make(chan int)
	go func() { // SITE: timeout
		v := slowLookup(id, 100*time.Millisecond)
		sending.Add(1)
		ch <- v // WAIT: timeout
	}()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return 0, ctx.Err() // nobody will ever receive from ch
	}
}

//go:noinline
func fetchWithTimeoutBuffered(ctx context.Context, id int, sent *atomic.Int64) (int, error) {
	ch := make(chan int, 1) // the fix: the worker's send never blocks
	go func() {             // SITE: timeoutbuf
		ch <- slowLookup(id, 100*time.Millisecond)
		sent.Add(1)
	}()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

type fetchFunc func(ctx context.Context, id int, c *atomic.Int64) (int, error)

//go:noinline
func handleFetch(fetch fetchFunc, id int, c, returned *atomic.Int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	fetch(ctx, id, c) // times out: the lookup takes 100 ms
	returned.Add(1)
}

// startFetches: n requests, each a goroutine calling fetch (modes timeout and timeoutbuf).
//
//go:noinline
func startFetches(n int, fetch fetchFunc, c, returned *atomic.Int64) {
	for id := 0; id < n; id++ {
		go handleFetch(fetch, id, c, returned) // SITE: fetchreq
	}
}

func modeTimeout(fs *flag.FlagSet) func() {
	n := fs.Int("n", 6, "requests")
	return func() {
		var sending, returned atomic.Int64
		startFetches(*n, fetchWithTimeout, &sending, &returned)
		waitFor(func() bool { return sending.Load() == int64(*n) && returned.Load() == int64(*n) })
		time.Sleep(50 * time.Millisecond) // the last worker reaches its send
		fmt.Println("blocked", *n)
	}
}

func modeTimeoutBuf(fs *flag.FlagSet) func() {
	n := fs.Int("n", 6, "requests")
	return func() {
		var sent, returned atomic.Int64
		startFetches(*n, fetchWithTimeoutBuffered, &sent, &returned)
		waitFor(func() bool { return sent.Load() == int64(*n) && returned.Load() == int64(*n) })
		time.Sleep(50 * time.Millisecond) // the last worker has exited
		fmt.Println("blocked 0 exited", *n)
	}
}

// --- early: an early error return orphans the goroutine meant to deliver the result ----------

var errInvalid = errors.New("invalid id")

//go:noinline
func loadProfile(id int, sending *atomic.Int64) (int, error) {
	ch := make(chan int)
	go func() { // SITE: early
		v := slowLookup(id, 20*time.Millisecond)
		sending.Add(1)
		ch <- v // WAIT: early
	}()
	if id%3 == 0 {
		return 0, errInvalid // returns before receiving: the sender above is orphaned
	}
	return <-ch, nil
}

func modeEarly(fs *flag.FlagSet) func() {
	return func() {
		var sending atomic.Int64
		failed := 0
		for id := 0; id < 9; id++ {
			if _, err := loadProfile(id, &sending); err != nil {
				failed++
			}
		}
		waitFor(func() bool { return sending.Load() == 9 })
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", failed)
	}
}

// --- warmer: a cache warmer on a ticker that outlives its request's cancelled context --------

//go:noinline
func warmCache(id int, period time.Duration) {
	t := time.NewTicker(period)
	for range t.C { // WAIT: warmer
		refresh(id)
	}
}

//go:noinline
func refresh(id int) {}

//go:noinline
func handleWithCache(id int, period time.Duration, returned *atomic.Int64) {
	ctx, cancel := context.WithCancel(context.Background())
	// The request ends and cancels ctx, but the warmer was never given it.
	defer cancel()
	go warmCache(id, period) // SITE: warmer
	serve(ctx, id)
	returned.Add(1)
}

//go:noinline
func serve(ctx context.Context, id int) {
	select {
	case <-ctx.Done():
	case <-time.After(time.Millisecond):
	}
}

//go:noinline
func startCacheRequests(n int, period time.Duration, returned *atomic.Int64) {
	for id := 0; id < n; id++ {
		go handleWithCache(id, period, returned) // SITE: warmerreq
	}
}

func modeWarmer(fs *flag.FlagSet) func() {
	n := fs.Int("n", 4, "requests")
	period := fs.Duration("period", 200*time.Millisecond, "the warmers' ticker period")
	return func() {
		var returned atomic.Int64
		startCacheRequests(*n, *period, &returned)
		waitFor(func() bool { return returned.Load() == int64(*n) })
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", *n)
	}
}

// --- wg: a Done skipped on a recovered panic leaves the batch's waiter blocked forever -------

//go:noinline
func processItem(wg *sync.WaitGroup, item int, finished *atomic.Int64) {
	defer func() {
		recover() // the panic is swallowed...
		finished.Add(1)
	}()
	if item%4 == 3 {
		panic("bad item")
	}
	wg.Done() // ...and this Done, not deferred, is skipped
}

//go:noinline
func handleBatch(size int, finished *atomic.Int64) {
	var wg sync.WaitGroup
	wg.Add(size)
	for item := 0; item < size; item++ {
		go processItem(&wg, item, finished) // SITE: wgworker
	}
	wg.Wait() // WAIT: wgwait
}

//go:noinline
func startBatches(sizes []int, finished *atomic.Int64) {
	for _, size := range sizes {
		go handleBatch(size, finished) // SITE: wgreq
	}
}

func modeWaitGroup(fs *flag.FlagSet) func() {
	return func() {
		var finished atomic.Int64
		startBatches([]int{4, 8, 12}, &finished)
		waitFor(func() bool { return finished.Load() == 4+8+12 })
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", 3)
	}
}

// --- mutex: an error path returns with the mutex held; later callers pile up in Lock --------

type store struct {
	mu   sync.Mutex
	data map[int]int
}

//go:noinline
func (s *store) update(id int) error {
	s.mu.Lock() // WAIT: mutexlock
	if id < 0 {
		return errInvalid // returns with s.mu held
	}
	s.data[id]++
	s.mu.Unlock()
	return nil
}

//go:noinline
func handleUpdate(s *store, id int, locking *atomic.Int64) {
	locking.Add(1)
	s.update(id)
}

// startUpdates: one request every 40 ms.
//
//go:noinline
func startUpdates(s *store, ids []int, locking *atomic.Int64) {
	for i, id := range ids {
		go handleUpdate(s, id, locking) // SITE: mutexreq
		if i < len(ids)-1 {
			time.Sleep(40 * time.Millisecond)
		}
	}
}

func modeMutex(fs *flag.FlagSet) func() {
	n := fs.Int("n", 20, "requests blocked behind the failed one")
	return func() {
		s := &store{data: map[int]int{}}
		var locking atomic.Int64
		ids := append([]int{1, 2, -1}, make([]int, *n)...)
		startUpdates(s, ids, &locking)
		waitFor(func() bool { return locking.Load() == int64(len(ids)) })
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", *n)
	}
}

// --- deadlock: two goroutines, two mutexes, opposite orders ---------------------------------

//go:noinline
func transfer(from, to *sync.Mutex, holding *sync.WaitGroup) {
	from.Lock()
	holding.Done()
	// Both hold their first mutex: the cycle is certain.
	holding.Wait()
	to.Lock() // WAIT: deadlock
}

//go:noinline
func startTransfers(a, b *sync.Mutex) {
	var holding sync.WaitGroup
	holding.Add(2)
	go transfer(a, b, &holding) // SITE: deadlockab
	go transfer(b, a, &holding) // SITE: deadlockba
}

func modeDeadlock(fs *flag.FlagSet) func() {
	return func() {
		var a, b sync.Mutex
		startTransfers(&a, &b)
		time.Sleep(100 * time.Millisecond)
		fmt.Println("blocked", 2)
	}
}

// --- retain: a leaked goroutine pins a 10 MiB buffer through its closure ---------------------

const retainSize = 10 << 20

//go:noinline
func retainBuffer(started *atomic.Int64) {
	buf := make([]byte, retainSize)
	for i := range buf {
		buf[i] = byte(i) // every page resident
	}
	done := make(chan struct{}) // never closed
	go func() {                 // SITE: retain
		started.Add(1)
		<-done // WAIT: retain
		fmt.Println(len(buf), buf[retainSize-1])
	}()
}

func modeRetain(fs *flag.FlagSet) func() {
	n := fs.Int("n", 3, "leaked goroutines, each holding a buffer")
	return func() {
		var started atomic.Int64
		for i := 0; i < *n; i++ {
			retainBuffer(&started)
		}
		waitFor(func() bool { return started.Load() == int64(*n) })
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", *n, "buffer", retainSize)
	}
}
