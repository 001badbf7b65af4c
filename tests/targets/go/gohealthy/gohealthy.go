// gohealthy: the healthy controls of shared/scenarios.md: goroutines that wait long, by
// design; strand must never call one stranded. With the protocol of the other targets:
//
//	gohealthy MODE [--now] [flags]
//
// It prints "ready", waits for SIGUSR1 (at once with --now), runs MODE, prints the mode's
// steady-state line (within ~1 s; progress lines may follow), holds until SIGTERM, shuts the
// mode down (closes the pool's channel, stops the sweeper) and exits 0. An unknown mode or
// flag exits 2 before "ready".
//
// Modes (flags and their defaults in brackets):
//
//   - pool: N workers started once range over a jobs channel; a feeder sends a burst of jobs
//     (10 ms each) every -every, so the workers are parked in `chan receive` for long
//     stretches; "burst K" after each burst is done; on SIGTERM the feeder stops, the
//     channel is closed and the workers return. [-n 8 -burst 16 -every 3s]
//   - errgroup: errgroup's SetLimit done with the standard library: a spawner acquires a
//     semaphore channel of k slots BEFORE each `go`, so at most k workers run; the spawner
//     waits in `chan send` for a slot, woken every time a worker is done. [-n 200 -k 4
//     -sleep 200ms]
//   - sweeper: one long-lived goroutine selecting on a time.Ticker and a stop channel,
//     expiring a cache each tick ("sweep K"). [-period 2s]
//   - metrics: an HTTP server (127.0.0.1, port 0) blocked in accept, never scraped unless a
//     test does it; prints "listening ADDR" first.
//   - keepalive: an HTTP server and a client (net/http.Transport, no idle timeout) that made
//     one request and keeps its connection idle in its pool: the server's connection
//     goroutine and the client's readLoop wait in `IO wait`, its writeLoop in `select`;
//     prints "listening ADDR" first.
//   - spike: B baseline workers, each handling a request every -req, then after -calm a
//     spike of 4B more workers (5x in all) for -spike, then back to the baseline: a line per
//     phase change; -repeat spikes in all. [-base 50 -calm 1s -spike 2s -req 100ms -repeat 1]
//   - forever: one goroutine made at start-up parks in `select {}` while the rest of the
//     program runs (main, here, waiting for signals): the idiom for "run forever".
//   - timedselect: 3 requests (calls that return) each start a waiter selecting on a result
//     channel of its own and on time.After(1h): made by calls that are over, but each ends
//     when its timer fires.
//
// The line each mode prints when it reached its steady state, and the progress lines after it
// (N, K numbers; counts in the table below are exact at the steady line):
//
//	mode       steady line                progress lines
//	pool       blocked 8                  burst K (from K=2, every -every)
//	errgroup   running 4 limit 4          done 200
//	sweeper    blocked 1                  sweep K
//	metrics    blocked 1                  -
//	forever    blocked 1                  -
//	timedselect blocked 3                 -
//	keepalive  blocked 4                  -
//	spike      phase baseline live 50     phase spike live 250, phase baseline live 50
//
// What strand must report at the steady line, a row per group. site: the go statement
// marked `// SITE: name` in this directory (`-`: goroutines the standard library starts);
// created by: the function holding it, as the runtime names it; wait: the line marked
// `// WAIT: name` the goroutine is parked at (`-`: no line of this directory, or the site's
// own); state: the wait reason as Go 1.19 names it; count: exact (0: every goroutine of
// the site has exited); verdict: stranded, idle, runaway spawn or none (nothing to report).
// Every mode also has the main goroutine (goroutine 1 in `chan receive`, WAIT: main) and
// os/signal's loop (`syscall`, created by os/signal.Notify.func1.1). No goroutine here may
// ever be called stranded.
//
//	mode       site        created by                      wait       state         count  verdict
//	pool       hpool       main.startPool                  hpool      chan receive  8      idle
//	pool       hfeeder     main.startPool                  hfeeder    select        1      none
//	errgroup   egspawner   main.startLimited               egacquire  chan send     1      none
//	errgroup   egworker    main.runLimited                 egwork     sleep         4      none
//	sweeper    sweeper     main.startSweeper               sweeper    select        1      idle
//	metrics    metrics     main.startMetrics               metrics    IO wait       1      idle
//	forever    forever     main.modeForever.func1          forever    select (no cases) 1 idle
//	timedselect timed      main.startTimedWait             timed      select        3      idle
//	keepalive  kaserve     main.startKeepAliveServer       kaserve    IO wait       1      idle
//	keepalive  -           net/http.(*Server).Serve        -          IO wait       1      idle
//	keepalive  -           net/http.(*Transport).dialConn  -          IO wait       1      idle
//	keepalive  -           net/http.(*Transport).dialConn  -          select        1      idle
//	spike      spikebase   main.startLoad                  spikebase  sleep         50     none
//	spike      spikes      main.startLoad                  spikes     sleep         1      none
//	spike      spikeextra  main.runSpikes                  -          -             0      none
//
// In mode spike, while the spike lasts, 200 more goroutines (SITE: spikeextra, WAIT:
// spikeextra, `sleep`) are live: runaway spawn may be reported then, stranded never.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

var modes = map[string]func(fs *flag.FlagSet) func(){
	"pool":        modePool,
	"errgroup":    modeErrgroup,
	"sweeper":     modeSweeper,
	"metrics":     modeMetrics,
	"keepalive":   modeKeepAlive,
	"spike":       modeSpike,
	"forever":     modeForever,
	"timedselect": modeTimedSelect,
}

// atExit: what the running mode does on SIGTERM before the program exits.
var atExit []func()

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: gohealthy MODE [--now] [flags]")
		os.Exit(2)
	}
	setup, ok := modes[os.Args[1]]
	if !ok {
		fmt.Fprintln(os.Stderr, "gohealthy: unknown mode", os.Args[1])
		os.Exit(2)
	}
	fs := flag.NewFlagSet("gohealthy "+os.Args[1], flag.ExitOnError)
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
			for _, f := range atExit {
				f()
			}
			os.Exit(0)
		}
	}
}

// waitFor polls until cond holds.
func waitFor(cond func() bool) {
	for !cond() {
		time.Sleep(2 * time.Millisecond)
	}
}

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "gohealthy: "+format+"\n", args...)
	os.Exit(1)
}

// --- pool: N workers started once, fed in bursts --------------------------------------------

type pool struct {
	jobs          chan int
	wg            sync.WaitGroup
	done          atomic.Int64  // jobs done
	stop, stopped chan struct{} // the feeder's
}

//go:noinline
func (p *pool) worker() {
	defer p.wg.Done()
	for job := range p.jobs { // WAIT: hpool
		time.Sleep(10 * time.Millisecond) // the job
		_ = job
		p.done.Add(1)
	}
}

//go:noinline
func (p *pool) feed(burst int, every time.Duration) {
	defer close(p.stopped)
	for k := 1; ; k++ {
		for j := 0; j < burst; j++ {
			select {
			case p.jobs <- j:
			case <-p.stop:
				return
			}
		}
		waitFor(func() bool { return p.done.Load() == int64(k*burst) })
		if k > 1 {
			fmt.Println("burst", k)
		}
		select { // WAIT: hfeeder
		case <-time.After(every):
		case <-p.stop:
			return
		}
	}
}

//go:noinline
func startPool(n, burst int, every time.Duration) *pool {
	p := &pool{jobs: make(chan int), stop: make(chan struct{}), stopped: make(chan struct{})}
	p.wg.Add(n)
	for i := 0; i < n; i++ {
		go p.worker() // SITE: hpool
	}
	go p.feed(burst, every) // SITE: hfeeder
	return p
}

// shutdown stops the feeder, then closes the pool and waits for its workers to return.
func (p *pool) shutdown() {
	close(p.stop)
	<-p.stopped
	close(p.jobs)
	p.wg.Wait()
}

func modePool(fs *flag.FlagSet) func() {
	n := fs.Int("n", 8, "workers")
	burst := fs.Int("burst", 16, "jobs per burst")
	every := fs.Duration("every", 3*time.Second, "time between bursts")
	return func() {
		p := startPool(*n, *burst, *every)
		waitFor(func() bool { return p.done.Load() == int64(*burst) })
		time.Sleep(20 * time.Millisecond) // every worker back in its receive
		fmt.Println("blocked", *n)
		atExit = append(atExit, p.shutdown)
	}
}

// --- errgroup: at most k workers, the slot taken before spawning ----------------------------

//go:noinline
func runLimited(items, limit int, sleep time.Duration, acquiring, running *atomic.Int64) {
	sem := make(chan struct{}, limit)
	var done atomic.Int64
	for i := 0; i < items; i++ {
		acquiring.Add(1)
		sem <- struct{}{} // WAIT: egacquire
		running.Add(1)
		go func() { // SITE: egworker
			defer func() {
				running.Add(-1)
				done.Add(1)
				<-sem
			}()
			time.Sleep(sleep) // WAIT: egwork
		}()
	}
	waitFor(func() bool { return done.Load() == int64(items) })
	fmt.Println("done", items)
}

//go:noinline
func startLimited(items, limit int, sleep time.Duration, acquiring, running *atomic.Int64) {
	go runLimited(items, limit, sleep, acquiring, running) // SITE: egspawner
}

func modeErrgroup(fs *flag.FlagSet) func() {
	n := fs.Int("n", 200, "items")
	k := fs.Int("k", 4, "limit: workers at once")
	sleep := fs.Duration("sleep", 200*time.Millisecond, "each item's work")
	return func() {
		var acquiring, running atomic.Int64
		startLimited(*n, *k, *sleep, &acquiring, &running)
		waitFor(func() bool { return acquiring.Load() == int64(*k+1) && running.Load() == int64(*k) })
		time.Sleep(20 * time.Millisecond) // the spawner is parked on the full semaphore
		fmt.Println("running", *k, "limit", *k)
	}
}

// --- sweeper: one goroutine on a ticker, for the program's life ----------------------------

type cache struct {
	mu      sync.Mutex
	expires map[string]time.Time
}

//go:noinline
func (c *cache) expire(now time.Time) {
	c.mu.Lock()
	for k, t := range c.expires {
		if now.After(t) {
			delete(c.expires, k)
		}
	}
	c.mu.Unlock()
}

//go:noinline
func sweep(c *cache, period time.Duration, stop chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	for k := 1; ; k++ {
		select { // WAIT: sweeper
		case now := <-t.C:
			c.expire(now)
			fmt.Println("sweep", k)
		case <-stop:
			return
		}
	}
}

//go:noinline
func startSweeper(c *cache, period time.Duration, stop chan struct{}) {
	go sweep(c, period, stop) // SITE: sweeper
}

func modeSweeper(fs *flag.FlagSet) func() {
	period := fs.Duration("period", 2*time.Second, "sweep period")
	return func() {
		c := &cache{expires: map[string]time.Time{"a": time.Now(), "b": time.Now().Add(time.Hour)}}
		stop := make(chan struct{})
		startSweeper(c, *period, stop)
		time.Sleep(20 * time.Millisecond)
		fmt.Println("blocked", 1)
		atExit = append(atExit, func() { close(stop) })
	}
}

// --- spike: 5x the baseline for a while, then back ------------------------------------------

//go:noinline
func baseWorker(req time.Duration) {
	for {
		time.Sleep(req) // WAIT: spikebase
	}
}

//go:noinline
func spikeWorker(req time.Duration, end chan struct{}, live *atomic.Int64) {
	defer live.Add(-1)
	for {
		select {
		case <-end:
			return
		default:
		}
		time.Sleep(req) // WAIT: spikeextra
	}
}

//go:noinline
func runSpikes(base, repeat int, calm, spike, req time.Duration) {
	var extra atomic.Int64
	for r := 0; r < repeat; r++ {
		time.Sleep(calm) // WAIT: spikes
		end := make(chan struct{})
		for i := 0; i < 4*base; i++ {
			extra.Add(1)
			go spikeWorker(req, end, &extra) // SITE: spikeextra
		}
		fmt.Println("phase spike live", base+int(extra.Load()))
		time.Sleep(spike)
		close(end)
		waitFor(func() bool { return extra.Load() == 0 })
		fmt.Println("phase baseline live", base)
	}
}

// startLoad starts the baseline workers and the goroutine that makes the spikes.
//
//go:noinline
func startLoad(base, repeat int, calm, spike, req time.Duration) {
	for i := 0; i < base; i++ {
		go baseWorker(req) // SITE: spikebase
	}
	go runSpikes(base, repeat, calm, spike, req) // SITE: spikes
}

func modeSpike(fs *flag.FlagSet) func() {
	base := fs.Int("base", 50, "baseline workers")
	calm := fs.Duration("calm", time.Second, "time at the baseline before each spike")
	spike := fs.Duration("spike", 2*time.Second, "how long each spike lasts")
	req := fs.Duration("req", 100*time.Millisecond, "each request's duration")
	repeat := fs.Int("repeat", 1, "spikes")
	return func() {
		startLoad(*base, *repeat, *calm, *spike, *req)
		time.Sleep(20 * time.Millisecond)
		fmt.Println("phase baseline live", *base)
	}
}

// --- forever: a goroutine made at start-up parked in select {} ------------------------------

func modeForever(fs *flag.FlagSet) func() {
	return func() {
		go func() { // SITE: forever
			select {} // WAIT: forever
		}()
		time.Sleep(20 * time.Millisecond)
		fmt.Println("blocked", 1)
	}
}

// --- timedselect: waiters bounded by a timer ---------------------------------------------------

//go:noinline
func startTimedWait(started *sync.WaitGroup) {
	result := make(chan int)
	go func() { // SITE: timed
		started.Done()
		select { // WAIT: timed
		case <-result:
		case <-time.After(time.Hour):
		}
	}()
}

func modeTimedSelect(fs *flag.FlagSet) func() {
	return func() {
		var started sync.WaitGroup
		for i := 0; i < 3; i++ {
			started.Add(1)
			startTimedWait(&started)
		}
		started.Wait()
		time.Sleep(20 * time.Millisecond)
		fmt.Println("blocked", 3)
	}
}
