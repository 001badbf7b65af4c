// gohttp: a Go HTTP server on loopback under a bounded local load, for strand's benchmarks.
// After a 2 s pause (so a tracer started with the program has attached its probes), 16
// client goroutines send N requests in all over keep-alive connections to a server in the
// same process (its own goroutine per connection, as net/http does), and it prints its own
// elapsed time.
//
//	gohttp N
package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"
)

const clients = 16

func main() {
	n := 20000
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	body := []byte("hello from a benchmark\n")
	go http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write(body)
	}))
	url := "http://" + ln.Addr().String() + "/"
	time.Sleep(2 * time.Second)
	tr := &http.Transport{MaxIdleConnsPerHost: clients}
	client := &http.Client{Transport: tr}
	start := time.Now()
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n/clients; i++ {
				resp, err := client.Get(url)
				if err != nil {
					fmt.Fprintln(os.Stderr, err)
					os.Exit(1)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	el := time.Since(start).Seconds()
	fmt.Printf("gohttp: %d requests in %.3f s, %.0f requests/s\n", n/clients*clients, el,
		float64(n/clients*clients)/el)
}
