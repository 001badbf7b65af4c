// gorunaway: runaway spawn (scenarios 1-8 of shared/scenarios.md): goroutines bounded in time
// but not in number, spawned by fan-outs whose size the input sets. With the protocol of the
// other targets:
//
//	gorunaway MODE [--now] [flags]
//
// It prints "ready", waits for SIGUSR1 (at once with --now), runs MODE, prints the mode's
// steady-state line (within ~1 s; progress lines may follow), holds until SIGTERM and exits 0.
// An unknown mode or flag exits 2 before "ready".
//
// Modes (flags and their defaults in brackets; -sleep is how long each spawned goroutine
// lives, in time.Sleep, a wait that never looks like a leak):
//
//   - items: main.processAll runs `go process(item)` over an input-sized slice; prints
//     "exited N" once all have returned (scenario 1). [-n 20000 -sleep 100ms]
//   - fetch: one handler goroutine per request does `go fetchAndStore(id)` for each of its
//     ids and returns: fan-out 10, 100 and 1000 per parent (scenario 2).
//     [-sizes 10,100,1000 -sleep 1s]
//   - sem: N goroutines spawned at once acquire a semaphore of k slots INSIDE (chan send);
//     k run, N-k wait; each holds its slot -sleep and releases it, so the waiters go through
//     k at a time; a line "done D" each time k more are done (scenario 3).
//     [-n 200 -k 4 -sleep 500ms]
//   - nested: 32 tenants each `go serveUser` for 32 users and return (scenario 4).
//     [-tenants 32 -users 32 -sleep 1s]
//   - tree: a goroutine per node of a binary tree, each spawning its two children
//     (scenario 5). [-depth 10 -sleep 1s]
//   - waves: a ticker goroutine spawns a wave of slow pollers every -period; each poller
//     lives -life, longer than the period, so the live count climbs stair-wise, one wave a
//     line, until about life/period+1 waves overlap (550 pollers with the defaults)
//     (scenario 6). [-period 300ms -size 50 -life 3s -waves 0, unlimited]
//   - logasync: a logging helper, logAsync (loglib.go), spawns a goroutine per message; it is
//     called from 3 call sites: `// CALL: login` 10 times, `// CALL: order` 20 times,
//     `// CALL: audit` 30 times (scenario 7). [-sleep 1s]
//   - syscall: N goroutines block in read(2) on a blocking pipe nobody writes (syscall.Read,
//     not the netpoller), each pinning an OS thread: the process gains N threads (the M
//     layer of scenario 8); with -release D a goroutine (SITE: release) writes the pipe after
//     D, the reads return, and "released N" is printed. [-n 50 -release 0, never]
//
// The line each mode prints when it reached its steady state, and the progress lines after it
// (N, D, T numbers; counts in the table below are exact at the steady line):
//
//	mode      steady line              progress lines
//	items     spawned 20000            exited 20000
//	fetch     spawned 1110 requests 3  exited 1110
//	sem       spawned 200 running 4    done D (every 4), exited 200
//	nested    spawned 1024 tenants 32  exited 1024
//	tree      spawned 2047 depth 10    exited 2047
//	waves     wave 1 live 50           wave N live L
//	logasync  spawned 60               exited 60
//	syscall   blocked 50 threads T     released 50 (with -release)
//
// What strand must report at the steady line, a row per group. site: the go statement
// marked `// SITE: name` in this directory (`-`: goroutines the standard library starts);
// created by: the function holding it, as the runtime names it; wait: the line marked
// `// WAIT: name` the goroutine is parked at (`-`: no line of this directory, or the site's
// own); state: the wait reason as Go 1.19 names it (`syscall` in a system call); count:
// exact (0: every goroutine of the site has exited); verdict: stranded, idle, runaway spawn
// or none (nothing to report).
// Every mode also has the main goroutine (goroutine 1 in `chan receive`, WAIT: main) and
// os/signal's loop (`syscall`, created by os/signal.Notify.func1.1); modes with an "exited"
// line have one more goroutine, polling in `sleep` until the count is back to 0 (SITE: watch).
//
//	mode      site      created by            wait      state         count  verdict
//	items     item      main.processAll       item      sleep         20000  runaway spawn
//	items     watch     main.watch            watch     sleep         1      none
//	fetch     fetch     main.handleIDs        fetch     sleep         1110   runaway spawn
//	fetch     fetchreq  main.startRequests    -         -             0      none
//	fetch     watch     main.watch            watch     sleep         1      none
//	sem       sem       main.spawnSemWorkers  sem       chan send     196    runaway spawn
//	sem       sem       main.spawnSemWorkers  semwork   sleep         4      runaway spawn
//	sem       watch     main.watch            watch     sleep         1      none
//	nested    user      main.serveTenant      user      sleep         1024   runaway spawn
//	nested    tenant    main.startTenants     -         -             0      none
//	nested    watch     main.watch            watch     sleep         1      none
//	tree      tree      main.walk             tree      sleep         2046   runaway spawn
//	tree      treeroot  main.startTree        tree      sleep         1      none
//	tree      watch     main.watch            watch     sleep         1      none
//	waves     poller    main.pollInWaves      poller    sleep         50     runaway spawn
//	waves     waves     main.startWaves       waves     chan receive  1      none
//	logasync  logasync  main.logAsync         logasync  sleep         60     runaway spawn
//	logasync  watch     main.watch            watch     sleep         1      none
//	syscall   sysread   main.startReaders     sysread   syscall       50     runaway spawn
//
// Fan-out per parent: items 20000 (main); fetch 10, 100, 1000 (three handlers, returned);
// sem 200 (main); nested 32 (main) then 32 per tenant (tenants returned); tree 2 per node;
// waves 50 per tick from one long-lived parent; logasync 60 from main, through three callers
// (main.handleLogin, main.handleOrder, main.handleAudit) of main.logAsync. In mode sem the
// waiters in `chan send` are woken k at a time, every -sleep: never stranded. In mode syscall
// the process has at least N+2 threads (T, printed), N of them in read(2) on the pipe.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

var modes = map[string]func(fs *flag.FlagSet) func(){
	"items":    modeItems,
	"fetch":    modeFetch,
	"sem":      modeSem,
	"nested":   modeNested,
	"tree":     modeTree,
	"waves":    modeWaves,
	"logasync": modeLogAsync,
	"syscall":  modeSyscall,
}

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gorunaway MODE [--now] [flags]")
		os.Exit(2)
	}
	setup, ok := modes[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "gorunaway: unknown mode", os.Args[1])
		os.Exit(2)
	}
	fs := flag.NewFlagSet("gorunaway "+os.Args[1], flag.ExitOnError)
	now := fs.Bool("now", false, "run the mode at once, without waiting for SIGUSR1")
	start := setup(fs)
	fs.Parse(os.Args[2:])
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	fmt.Println("ready")
	if !*now && <-sigs == syscall.SIGTERM {
		os.Exit(0)
	}
	start()
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

// waitFor polls until cond holds: the caller sleeps rather than parks on a channel or
// WaitGroup, so no wait of its own looks like a leak.
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(2 * time.Millisecond) // WAIT: watch
	}
}

// watch prints "exited N" once live is back to 0.
//
//go:noinline
func watch(live *atomic.Int64, n int) {
	go func() { // SITE: watch
		waitFor(func() bool { return live.Load() == 0 })
		fmt.Println("exited", n)
	}()
}

// --- items: one goroutine per item of an input-sized slice ----------------------------------

//go:noinline
func process(item int, sleep time.Duration, live *atomic.Int64) {
	time.Sleep(sleep) // WAIT: item
	live.Add(-1)
}

//go:noinline
func processAll(items []int, sleep time.Duration, live *atomic.Int64) {
	for _, item := range items {
		live.Add(1)
		go process(item, sleep, live) // SITE: item
	}
}

func modeItems(fs *flag.FlagSet) func() {
	n := fs.Int("n", 20000, "items")
	sleep := fs.Duration("sleep", 100*time.Millisecond, "each item's processing time")
	return func() {
		var live atomic.Int64
		processAll(make([]int, *n), *sleep, &live)
		fmt.Println("spawned", *n)
		watch(&live, *n)
	}
}

// --- fetch: a handler per request, a goroutine per id of the request ------------------------

//go:noinline
func fetchAndStore(id int, sleep time.Duration, live *atomic.Int64) {
	time.Sleep(sleep) // WAIT: fetch
	live.Add(-1)
}

//go:noinline
func handleIDs(ids []int, sleep time.Duration, live, handled *atomic.Int64) {
	for _, id := range ids {
		live.Add(1)
		go fetchAndStore(id, sleep, live) // SITE: fetch
	}
	handled.Add(1) // fire and forget: the handler returns at once
}

// startRequests: a handler goroutine per request; returns the ids in all.
//
//go:noinline
func startRequests(sizes []int, sleep time.Duration, live, handled *atomic.Int64) int {
	total := 0
	for _, size := range sizes {
		total += size
		go handleIDs(make([]int, size), sleep, live, handled) // SITE: fetchreq
	}
	return total
}

func modeFetch(fs *flag.FlagSet) func() {
	sizes := []int{10, 100, 1000}
	fs.Func("sizes", "ids per request, one request per number (default 10,100,1000)",
		func(v string) error {
			sizes = nil
			for _, s := range strings.Split(v, ",") {
				size, err := strconv.Atoi(s)
				if err != nil || size < 0 {
					return fmt.Errorf("not a request size: %q", s)
				}
				sizes = append(sizes, size)
			}
			return nil
		})
	sleep := fs.Duration("sleep", time.Second, "each fetch's duration")
	return func() {
		var live, handled atomic.Int64
		total := startRequests(sizes, *sleep, &live, &handled)
		waitFor(func() bool { return handled.Load() == int64(len(sizes)) })
		fmt.Println("spawned", total, "requests", len(sizes))
		watch(&live, total)
	}
}

// --- sem: the semaphore is acquired inside the spawned goroutine ----------------------------

//go:noinline
func semWorker(sem chan struct{}, sleep time.Duration, k int, waiting, live, done *atomic.Int64) {
	waiting.Add(1)
	sem <- struct{}{} // WAIT: sem
	waiting.Add(-1)
	time.Sleep(sleep) // WAIT: semwork
	<-sem
	if d := done.Add(1); d%int64(k) == 0 {
		fmt.Println("done", d)
	}
	live.Add(-1)
}

//go:noinline
func spawnSemWorkers(n int, sem chan struct{}, sleep time.Duration, waiting, live, done *atomic.Int64) {
	for i := 0; i < n; i++ {
		live.Add(1)
		go semWorker(sem, sleep, cap(sem), waiting, live, done) // SITE: sem
	}
}

func modeSem(fs *flag.FlagSet) func() {
	n := fs.Int("n", 200, "goroutines spawned")
	k := fs.Int("k", 4, "semaphore slots")
	sleep := fs.Duration("sleep", 500*time.Millisecond, "how long each holds its slot")
	return func() {
		sem := make(chan struct{}, *k)
		var waiting, live, done atomic.Int64
		spawnSemWorkers(*n, sem, *sleep, &waiting, &live, &done)
		waitFor(func() bool { return waiting.Load() == int64(*n-*k) && len(sem) == *k })
		time.Sleep(20 * time.Millisecond) // the last waiter is parked in its send
		fmt.Println("spawned", *n, "running", *k)
		watch(&live, *n)
	}
}

// --- nested: tenants x users ----------------------------------------------------------------

//go:noinline
func serveUser(tenant, user int, sleep time.Duration, live *atomic.Int64) {
	time.Sleep(sleep) // WAIT: user
	live.Add(-1)
}

//go:noinline
func serveTenant(tenant, users int, sleep time.Duration, live, served *atomic.Int64) {
	for u := 0; u < users; u++ {
		live.Add(1)
		go serveUser(tenant, u, sleep, live) // SITE: user
	}
	served.Add(1)
}

//go:noinline
func startTenants(tenants, users int, sleep time.Duration, live, served *atomic.Int64) {
	for t := 0; t < tenants; t++ {
		go serveTenant(t, users, sleep, live, served) // SITE: tenant
	}
}

func modeNested(fs *flag.FlagSet) func() {
	tenants := fs.Int("tenants", 32, "tenants")
	users := fs.Int("users", 32, "users per tenant")
	sleep := fs.Duration("sleep", time.Second, "each user's service time")
	return func() {
		var live, served atomic.Int64
		startTenants(*tenants, *users, *sleep, &live, &served)
		waitFor(func() bool { return served.Load() == int64(*tenants) })
		fmt.Println("spawned", *tenants**users, "tenants", *tenants)
		watch(&live, *tenants**users)
	}
}

// --- tree: one goroutine per node -----------------------------------------------------------

//go:noinline
func walk(depth int, sleep time.Duration, live, started *atomic.Int64) {
	if depth > 0 {
		for c := 0; c < 2; c++ {
			live.Add(1)
			go walk(depth-1, sleep, live, started) // SITE: tree
		}
	}
	started.Add(1)
	time.Sleep(sleep) // WAIT: tree
	live.Add(-1)
}

//go:noinline
func startTree(depth int, sleep time.Duration, live, started *atomic.Int64) {
	live.Add(1)
	go walk(depth, sleep, live, started) // SITE: treeroot
}

func modeTree(fs *flag.FlagSet) func() {
	depth := fs.Int("depth", 10, "tree depth (2^(depth+1)-1 nodes)")
	sleep := fs.Duration("sleep", time.Second, "each node's work")
	return func() {
		var live, started atomic.Int64
		nodes := int64(1)<<(*depth+1) - 1
		startTree(*depth, *sleep, &live, &started)
		waitFor(func() bool { return started.Load() == nodes })
		fmt.Println("spawned", nodes, "depth", *depth)
		watch(&live, int(nodes))
	}
}
