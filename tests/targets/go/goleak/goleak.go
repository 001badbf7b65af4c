// goleak: goroutines blocked forever (scenarios 9-20 of shared/scenarios.md) and one healthy
// pool, with the protocol of the C targets:
//
//	goleak MODE [--now] [flags]
//
// It prints "ready", waits for SIGUSR1 (at once with --now), runs MODE, prints the mode's
// steady-state line (within ~1 s; progress lines may follow), holds until SIGTERM and exits 0.
// An unknown mode or flag exits 2 before "ready"; so does mode cgo in a build without cgo.
//
// Modes (flags and their defaults in brackets):
//
//   - chan: 5 requests (main.handleRequest, called by main.main) each leave a worker blocked
//     on a per-request channel nobody sends on or closes.
//   - forever: 2 goroutines in `select {}` and 1 receiving from a nil channel: waits the
//     runtime itself says can never end.
//   - pool: 4 workers ranging over a jobs channel a feeder sends on every 100 ms: healthy.
//   - range: 4 request handlers (each its own goroutine, returned by the steady line) each
//     start a worker `for job := range jobs` on their own channel, send it 1..4 jobs and
//     return without closing it (scenario 9). [-n 4]
//   - timeout: 6 request handlers call fetchWithTimeout (context timeout 20 ms, unbuffered
//     result channel), return on ctx.Done(); each worker, done after 100 ms, blocks in its
//     send forever (scenario 10). [-n 6]
//   - timeoutbuf: the control: the same with a result channel of capacity 1; every worker
//     sends and exits, nothing is left at its site. [-n 6]
//   - early: the main goroutine calls loadProfile for ids 0..8; ids 0, 3, 6 fail validation and return
//     early, orphaning the goroutine meant to deliver their result (scenario 11).
//   - heartbeat: a TCP server on 127.0.0.1 whose per-connection serveConn starts a heartbeat
//     goroutine (ticker every -beat, select on the ticker and a stop channel nobody closes)
//     and returns when its reader sees EOF; the client opens and closes connections one after
//     another: 5 at once, then one every -every up to -conns, so the heartbeats (all woken by
//     their ticker) track cumulative connections, not open ones (scenario 12).
//     [-conns 20 -every 200ms -beat 500ms]
//   - warmer: 4 requests (goroutines, returned) each start a cache warmer on a ticker (every
//     -period) and cancel their context on return; the warmer never looks at it (scenario 13).
//     [-n 4 -period 200ms]
//   - tcp: a local server accepts and never replies; 3 callers write a request on a
//     connection with no deadline and block reading the answer (scenario 14). [-n 3]
//   - wg: 3 request handlers (goroutines) each Add(len(batch)) and Wait for a batch of
//     4, 8, 12 items; every 4th item panics, its worker recovers but skips its Done (not
//     deferred), so every handler waits forever; all the workers exit (scenario 15).
//   - mutex: requests (one goroutine each, every 40 ms) update a store; the third request
//     fails and returns with the store's mutex held, the -n after it pile up in Lock, their
//     count growing for ~0.9 s (scenario 16). [-n 20]
//   - deadlock: two goroutines take two mutexes in opposite orders (scenario 16).
//   - retain: 3 leaked goroutines each hold a 10 MiB buffer (written through, so resident)
//     through their closure (scenario 18). [-n 3]
//   - cgo: (cgo builds only) a C thread took a pthread mutex and ended without unlocking it;
//     one goroutine calls C that locks it, one calls C that reads a pipe nobody writes: two
//     OS threads pinned in C (scenario 20).
//
// The line each mode prints when it reached its steady state, and the progress lines after it
// (N a number; counts in the table below are exact at the steady line):
//
//	mode        steady line                progress lines
//	chan        blocked 5                  -
//	forever     blocked 3                  -
//	pool        blocked 5                  -
//	range       blocked 4                  -
//	timeout     blocked 6                  -
//	timeoutbuf  blocked 0 exited 6         -
//	early       blocked 3                  -
//	heartbeat   blocked 5                  heartbeats N (cumulative closed connections)
//	warmer      blocked 4                  -
//	tcp         blocked 3                  -
//	wg          blocked 3                  -
//	mutex       blocked 20                 -
//	deadlock    blocked 2                  -
//	retain      blocked 3 buffer 10485760  -
//	cgo         blocked 2                  -
//
// What strand must report at the steady line, a row per group. site: the go statement
// marked `// SITE: name` in this directory (`-`: goroutines the standard library starts);
// created by: the function holding it, as the runtime names it; wait: the line marked
// `// WAIT: name` the goroutine is parked at (`-`: no line of this directory, or the site's
// own); state: the wait reason as Go 1.19 names it (`semacquire` for both
// sync.WaitGroup.Wait and sync.Mutex.Lock; `syscall` in a system call or in C); count:
// exact (0: every goroutine of the site has exited); verdict: stranded, idle, runaway spawn
// or none (nothing to report).
// Every mode also has the main goroutine (goroutine 1 in `chan receive`, WAIT: main, never
// stranded) and os/signal's loop (`syscall`, created by os/signal.Notify.func1.1).
//
//	mode        site        created by                     wait       state                    count  verdict
//	chan        chan        main.handleRequest             chan       chan receive             5      stranded
//	forever     select      main.spawnForever              -          select (no cases)        2      stranded
//	forever     nilchan     main.spawnForever              -          chan receive (nil chan)  1      stranded
//	pool        pool        main.startPool                 pool       chan receive             4      none
//	pool        feeder      main.startPool                 feeder     sleep                    1      none
//	range       range       main.handleJobs                range      chan receive             4      stranded
//	range       rangereq    main.startJobRequests          -          -                        0      none
//	timeout     timeout     main.fetchWithTimeout          timeout    chan send                6      stranded
//	timeout     fetchreq    main.startFetches              -          -                        0      none
//	timeoutbuf  timeoutbuf  main.fetchWithTimeoutBuffered  -          -                        0      none
//	timeoutbuf  fetchreq    main.startFetches              -          -                        0      none
//	early       early       main.loadProfile               early      chan send                3      stranded
//	heartbeat   heartbeat   main.(*hbServer).serveConn     heartbeat  select                   5      stranded
//	heartbeat   hbaccept    main.startHeartbeatServer      hbaccept   IO wait                  1      idle
//	heartbeat   hbclient    main.connect                   hbclient   sleep                    1      none
//	heartbeat   serveconn   main.(*hbServer).acceptLoop    -          -                        0      none
//	warmer      warmer      main.handleWithCache           warmer     chan receive             4      stranded
//	warmer      warmerreq   main.startCacheRequests        -          -                        0      none
//	tcp         tcpcall     main.callPeers                 tcpcall    IO wait                  3      stranded
//	tcp         tcpaccept   main.startSilentPeer           tcpaccept  IO wait                  1      idle
//	wg          wgreq       main.startBatches              wgwait     semacquire               3      stranded
//	wg          wgworker    main.handleBatch               -          -                        0      none
//	mutex       mutexreq    main.startUpdates              mutexlock  semacquire               20     stranded
//	deadlock    deadlockab  main.startTransfers            deadlock   semacquire               1      stranded
//	deadlock    deadlockba  main.startTransfers            deadlock   semacquire               1      stranded
//	retain      retain      main.retainBuffer              retain     chan receive             3      stranded
//	cgo         cgolock     main.startCgoCalls             cgolock    syscall                  1      stranded
//	cgo         cgoread     main.startCgoCalls             cgoread    syscall                  1      none
//
// The heartbeats are woken by their ticker: their evidence is an exited spawner and a count that
// only grows; the warmers' too (one per finished request). The stranded tcp callers and the
// idle accept loops are both in `IO wait`: a read on an outbound connection versus accept.
// In mode cgo the C mutex's holder (a pthread, not an M) is gone: the lock died with it, a
// proof. The pipe's reader is one thread on a pipe whose write end the process holds: no proof
// and no sign of forgetting, so no verdict; the goroutine agrees with its thread either way.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime"
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
			for range jobs { // WAIT: pool
			}
		}()
	}
	go func() { // SITE: feeder
		for {
			time.Sleep(100 * time.Millisecond) // WAIT: feeder
			jobs <- 1
		}
	}()
}

// modes other than chan, forever and pool: each defines its flags on fs and returns the
// function that starts the scenario and prints the steady-state line.
var modes = map[string]func(fs *flag.FlagSet) func(){
	"range":      modeRange,
	"timeout":    modeTimeout,
	"timeoutbuf": modeTimeoutBuf,
	"early":      modeEarly,
	"heartbeat":  modeHeartbeat,
	"warmer":     modeWarmer,
	"tcp":        modeTCP,
	"wg":         modeWaitGroup,
	"mutex":      modeMutex,
	"deadlock":   modeDeadlock,
	"retain":     modeRetain,
	"cgo":        modeCgo,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: goleak MODE [--now] [flags]")
		os.Exit(2)
	}
	mode := os.Args[1]
	fs := flag.NewFlagSet("goleak "+mode, flag.ExitOnError)
	now := fs.Bool("now", false, "run the mode at once, without waiting for SIGUSR1")
	gc := fs.Bool("gc", false, "chan: GCs once the workers are blocked, which date their waits (g.waitsince)")
	var start func()
	switch mode {
	case "chan", "forever", "pool":
	default:
		setup, ok := modes[mode]
		if !ok {
			fmt.Fprintln(os.Stderr, "goleak: unknown mode", mode)
			os.Exit(2)
		}
		start = setup(fs)
	}
	fs.Parse(os.Args[2:])
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	fmt.Println("ready")
	if !*now && <-sigs == syscall.SIGTERM {
		os.Exit(0)
	}
	// chan, forever and pool spawn straight from main.main: tests assert that spawn stack.
	switch mode {
	case "chan":
		for id := 0; id < 5; id++ {
			handleRequest(id)
		}
		time.Sleep(200 * time.Millisecond) // the goroutines reach their waits
		if *gc {
			// the first GC of a process dates nothing: its stack scan sets g.waitsince
			// to the previous GC's time, 0 then
			runtime.GC()
			runtime.GC()
		}
		fmt.Println("blocked", 5)
	case "forever":
		spawnForever()
		time.Sleep(200 * time.Millisecond)
		fmt.Println("blocked", 3)
	case "pool":
		startPool(make(chan int))
		time.Sleep(200 * time.Millisecond)
		fmt.Println("blocked", 5)
	default:
		start()
	}
	hold(sigs)
}

//go:noinline
func hold(sigs chan os.Signal) {
	for s := range sigs { // WAIT: main
		if s == syscall.SIGTERM {
			os.Exit(0)
		}
	}
}

// waitFor polls until cond holds: the main goroutine sleeps rather than parks on a channel
// or WaitGroup, so no wait of its own looks like a leak.
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(2 * time.Millisecond)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goleak: "+format+"\n", args...)
	os.Exit(2)
}
