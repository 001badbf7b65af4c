// leaky_api: the Go half of `make demo`, a small HTTP API with the leak of product.md's
// on-call story. Every webhook hands its event to a goroutine that delivers the result on an
// unbuffered channel, but the handler gives up after 10 ms: the goroutine blocks in its send
// forever, its spawner long gone, one more per request. Beside it, healthy goroutines a
// service has by design: a worker pool idle between jobs, a sweeper on a ticker, the server
// in accept. It calls itself, a webhook every 50 ms and a job now and then, until killed.
//
// `make demo` builds it stripped (-ldflags='-s -w'), as services ship.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"
)

type server struct {
	jobs chan string
}

type result struct {
	id  string
	err error
}

//go:noinline
func (s *server) deliver(id string, out chan<- result) {
	time.Sleep(20 * time.Millisecond) // the downstream call
	out <- result{id: id}             // nobody receives any more: blocked forever
}

//go:noinline
func (s *server) handleWebhook(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Millisecond)
	defer cancel()
	out := make(chan result) // unbuffered: the bug
	go s.deliver(r.URL.Query().Get("id"), out)
	select {
	case res := <-out:
		fmt.Fprintln(w, "delivered", res.id)
	case <-ctx.Done():
		http.Error(w, "accepted, delivery pending", http.StatusAccepted)
	}
}

//go:noinline
func (s *server) worker() {
	for job := range s.jobs {
		time.Sleep(5 * time.Millisecond)
		_ = job
	}
}

//go:noinline
func (s *server) handleWork(w http.ResponseWriter, r *http.Request) {
	s.jobs <- r.URL.Query().Get("job")
	fmt.Fprintln(w, "queued")
}

//go:noinline
func sweep(every time.Duration) {
	for range time.NewTicker(every).C {
	}
}

//go:noinline
func call(client *http.Client, url string) {
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(os.Stderr, "leaky_api:", err)
		os.Exit(1)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func main() {
	s := &server{jobs: make(chan string)}
	for i := 0; i < 4; i++ {
		go s.worker()
	}
	go sweep(time.Second)
	http.HandleFunc("/webhook", s.handleWebhook)
	http.HandleFunc("/work", s.handleWork)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "leaky_api:", err)
		os.Exit(1)
	}
	go http.Serve(ln, nil)
	fmt.Println("listening", ln.Addr())
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	base := "http://" + ln.Addr().String()
	for n := 0; ; n++ {
		call(client, fmt.Sprintf("%s/webhook?id=%d", base, n))
		if n%20 == 0 {
			call(client, fmt.Sprintf("%s/work?job=%d", base, n))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
