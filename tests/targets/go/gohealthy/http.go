// Modes metrics (an HTTP server blocked in accept) and keepalive (an idle keep-alive
// connection, both ends) of gohealthy.
package main

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

func listenLocal() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	fmt.Println("listening", ln.Addr())
	return ln
}

// --- metrics: a server waiting for a scrape that may never come -----------------------------

//go:noinline
func serveMetrics(ln net.Listener) {
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "requests_total 0")
	})
	(&http.Server{Handler: mux}).Serve(ln) // WAIT: metrics
}

//go:noinline
func startMetrics(ln net.Listener) {
	go serveMetrics(ln) // SITE: metrics
}

func modeMetrics(fs *flag.FlagSet) func() {
	return func() {
		startMetrics(listenLocal())
		time.Sleep(20 * time.Millisecond)
		fmt.Println("blocked", 1)
	}
}

// --- keepalive: one request, then the connection idles in the client's pool -----------------

//go:noinline
func serveKeepAlive(ln net.Listener) {
	(&http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})}).Serve(ln) // WAIT: kaserve
}

//go:noinline
func startKeepAliveServer(ln net.Listener) {
	go serveKeepAlive(ln) // SITE: kaserve
}

func modeKeepAlive(fs *flag.FlagSet) func() {
	return func() {
		ln := listenLocal()
		startKeepAliveServer(ln)
		// No IdleConnTimeout: the idle connection stays open for the program's life.
		client := &http.Client{Transport: &http.Transport{}}
		resp, err := client.Get("http://" + ln.Addr().String() + "/")
		if err != nil {
			fail("get: %v", err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close() // the connection goes back to the pool, idle
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", 4)
	}
}
