// goservice: an HTTP service with net/http/pprof and a known mixture of goroutines (leaks of
// three kinds, a worker pool, a sweeper), so that strand's counts by creation site can be
// compared with the runtime's own: /debug/pprof/goroutine?debug=2 ("created by" lines) and
// ?debug=1 (counts by stack). With the protocol of the other targets:
//
//	goservice serve [--now]
//
// It prints "ready", waits for SIGUSR1 (at once with --now), listens on 127.0.0.1 (port 0)
// and prints "listening ADDR", then requests its own endpoints (plain HTTP, no keep-alive):
// /quote 3 times, /jobs 2 times, /batch 2 times, /work?n=8 once; once every connection is
// closed and the leaks are in place it prints "blocked 7 live 15" (7 leaked goroutines, 15
// goroutines in all as runtime.NumGoroutine counts them), holds until SIGTERM and exits 0.
//
// Endpoints:
//
//   - /quote: fetchWithTimeout with a 20 ms deadline and an unbuffered result channel; the
//     lookup takes 100 ms, the handler answers 504 and its worker blocks in its send forever.
//   - /jobs: starts a worker ranging over a per-request channel, sends it 2 jobs and
//     returns without closing it.
//   - /batch: answers 202 and hands the batch to a goroutine that waits on a WaitGroup whose
//     third worker panics, recovers and skips its Done: that goroutine waits forever.
//   - /work?n=N: queues N jobs (10 ms each) for the pool of 4 workers started once.
//   - /debug/pprof/: net/http/pprof.
//
// The line it prints when it reached its steady state, and the progress lines after it:
//
//	mode   steady line         progress lines
//	serve  blocked 7 live 15   -
//
// What strand must report at the steady line, a row per group. site: the go statement
// marked `// SITE: name` in this directory (`-`: goroutines the standard library starts);
// created by: the function holding it, as the runtime names it; wait: the line marked
// `// WAIT: name` the goroutine is parked at (`-`: no line of this directory, or the site's
// own); state: the wait reason as Go 1.19 names it; count: exact (0: every goroutine of
// the site has exited); verdict: stranded, idle, runaway spawn or none (nothing to report).
// Besides the rows: the main goroutine (goroutine 1 in `chan receive`, WAIT: main) and
// os/signal's loop (`syscall`, created by os/signal.Notify.func1.1). The last two rows are
// the request for the dump itself: the connection's goroutine, running the pprof handler,
// and the background reader net/http starts for the handler's time (`IO wait` or
// runnable); pprof's view has them (its total is then 17 for the 15 of the steady line),
// strand's, at another time, need not.
//
//	mode   site          created by                                  wait        state         count  verdict
//	serve  svctimeout    main.fetchWithTimeout                       svctimeout  chan send     3      stranded
//	serve  svcrange      main.handleJobs                             svcrange    chan receive  2      stranded
//	serve  svcbatch      main.handleBatch                            svcbatch    semacquire    2      stranded
//	serve  svcbatchitem  main.runBatch                               -           -             0      none
//	serve  svcpool       main.serve                                  svcpool     chan receive  4      idle
//	serve  svcsweeper    main.serve                                  svcsweeper  select        1      idle
//	serve  svcserve      main.serve                                  svcserve    IO wait       1      idle
//	serve  -             net/http.(*Server).Serve                    -           running       1      none
//	serve  -             net/http.(*connReader).startBackgroundRead  -           -             1      none
//
// The leaks' spawners are the connections' goroutines (created by net/http.(*Server).Serve),
// all returned by the steady line.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) < 2 || os.Args[1] != "serve" {
		fmt.Fprintln(os.Stderr, "usage: goservice serve [--now]")
		os.Exit(2)
	}
	fs := flag.NewFlagSet("goservice serve", flag.ExitOnError)
	now := fs.Bool("now", false, "run at once, without waiting for SIGUSR1")
	fs.Parse(os.Args[2:])
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1, syscall.SIGTERM)
	fmt.Println("ready")
	if !*now && <-sigs == syscall.SIGTERM {
		os.Exit(0)
	}
	serve()
	hold(sigs)
}

//go:noinline
func hold(sigs chan os.Signal) {
	for s := range sigs { // WAIT: main
		if s == syscall.SIGTERM {
			close(shutdown)
			os.Exit(0)
		}
	}
}

// waitFor polls until cond holds, or gives up after 5 s.
func waitFor(what string, cond func() bool) {
	for t0 := time.Now(); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Since(t0) > 5*time.Second {
			fail("timed out waiting for %s (%d goroutines)", what, runtime.NumGoroutine())
		}
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "goservice: "+format+"\n", args...)
	os.Exit(1)
}

// Goroutines reaching their waits, so that the steady line comes when all are there.
var sending, ranging, batched, worked atomic.Int64

func serve() {
	base := runtime.NumGoroutine() // main and os/signal's loop
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Println("listening", ln.Addr())
	jobs := make(chan int, 64)
	for i := 0; i < 4; i++ {
		go poolWorker(jobs) // SITE: svcpool
	}
	go sweep(time.Second) // SITE: svcsweeper
	http.HandleFunc("/quote", handleQuote)
	http.HandleFunc("/jobs", handleJobs)
	http.HandleFunc("/batch", handleBatch)
	http.HandleFunc("/work", func(w http.ResponseWriter, r *http.Request) { handleWork(w, r, jobs) })
	go serveHTTP(ln) // SITE: svcserve

	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	addr := "http://" + ln.Addr().String()
	for _, path := range []string{"/quote", "/quote", "/quote", "/jobs", "/jobs", "/batch", "/batch", "/work?n=8"} {
		resp, err := client.Get(addr + path)
		if err != nil {
			fail("GET %s: %v", path, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	waitFor("the leaks", func() bool {
		return sending.Load() == 3 && ranging.Load() == 4 && batched.Load() == 2 && worked.Load() == 8
	})
	want := base + 1 + 4 + 1 + 7 // the server, the pool, the sweeper, the leaks
	waitFor("the connections to close", func() bool { return runtime.NumGoroutine() == want })
	time.Sleep(20 * time.Millisecond)
	fmt.Println("blocked", 7, "live", want)
}

//go:noinline
func serveHTTP(ln net.Listener) {
	(&http.Server{}).Serve(ln) // WAIT: svcserve
}

// --- /quote: fetchWithTimeout with an unbuffered result channel -----------------------------

//go:noinline
func lookupQuote() int {
	time.Sleep(100 * time.Millisecond)
	return 42
}

//go:noinline
func fetchWithTimeout(ctx context.Context) (int, error) {
	ch := make(chan int)
	go func() { // SITE: svctimeout
		v := lookupQuote()
		sending.Add(1)
		ch <- v // WAIT: svctimeout
	}()
	select {
	case v := <-ch:
		return v, nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

//go:noinline
func handleQuote(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 20*time.Millisecond)
	defer cancel()
	v, err := fetchWithTimeout(ctx)
	if err != nil {
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
		return
	}
	fmt.Fprintln(w, v)
}

// --- /jobs: a per-request worker on a channel nobody closes ---------------------------------

//go:noinline
func jobWorker(jobs chan int) {
	for job := range jobs { // WAIT: svcrange
		_ = job
		ranging.Add(1)
	}
}

//go:noinline
func handleJobs(w http.ResponseWriter, r *http.Request) {
	jobs := make(chan int)
	go jobWorker(jobs) // SITE: svcrange
	jobs <- 1
	jobs <- 2
	fmt.Fprintln(w, "queued 2")
}

// --- /batch: a WaitGroup whose Done is skipped on a recovered panic -------------------------

//go:noinline
func batchItem(wg *sync.WaitGroup, item int) {
	defer func() { recover() }()
	if item == 2 {
		panic("bad item")
	}
	wg.Done() // not deferred: skipped by the panic
}

//go:noinline
func runBatch(items int) {
	var wg sync.WaitGroup
	wg.Add(items)
	for i := 0; i < items; i++ {
		go batchItem(&wg, i) // SITE: svcbatchitem
	}
	batched.Add(1)
	wg.Wait() // WAIT: svcbatch
}

//go:noinline
func handleBatch(w http.ResponseWriter, r *http.Request) {
	go runBatch(4) // SITE: svcbatch
	w.WriteHeader(http.StatusAccepted)
}

// --- /work and the pool ---------------------------------------------------------------------

//go:noinline
func poolWorker(jobs chan int) {
	for job := range jobs { // WAIT: svcpool
		time.Sleep(10 * time.Millisecond)
		_ = job
		worked.Add(1)
	}
}

//go:noinline
func handleWork(w http.ResponseWriter, r *http.Request, jobs chan int) {
	n, _ := strconv.Atoi(r.URL.Query().Get("n"))
	for i := 0; i < n; i++ {
		jobs <- i
	}
	fmt.Fprintln(w, "queued", n)
}

// --- the sweeper ----------------------------------------------------------------------------

// shutdown is closed on SIGTERM.
var shutdown = make(chan struct{})

//go:noinline
func sweep(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select { // WAIT: svcsweeper
		case <-t.C:
		case <-shutdown:
			return
		}
	}
}
