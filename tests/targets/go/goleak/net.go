// Leaks around TCP connections: modes heartbeat and tcp (see goleak.go).
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net"
	"sync/atomic"
	"time"
)

func listenLocal() net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail("listen: %v", err)
	}
	return ln
}

// --- heartbeat: a per-connection heartbeat outlives the connection's reader -----------------

type hbServer struct {
	ln     net.Listener
	beat   time.Duration
	closed chan struct{} // one value per serveConn returned
}

//go:noinline
func (s *hbServer) acceptLoop() {
	for {
		c, err := s.ln.Accept() // WAIT: hbaccept
		if err != nil {
			return
		}
		go s.serveConn(c) // SITE: serveconn
	}
}

//go:noinline
func (s *hbServer) serveConn(c net.Conn) {
	defer func() { s.closed <- struct{}{} }()
	defer c.Close()
	// The bug: nothing closes stop when the reader below returns.
	stop := make(chan struct{})
	go heartbeat(c, stop, s.beat) // SITE: heartbeat
	r := bufio.NewReader(c)
	for {
		if _, err := r.ReadString('\n'); err != nil {
			return
		}
	}
}

//go:noinline
func heartbeat(c net.Conn, stop chan struct{}, beat time.Duration) {
	t := time.NewTicker(beat)
	defer t.Stop()
	for {
		select { // WAIT: heartbeat
		case <-t.C:
			c.Write([]byte("ping\n")) // fails once the connection is closed, and goes on
		case <-stop:
			return
		}
	}
}

//go:noinline
func openAndClose(addr string, closed chan struct{}) {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		fail("dial: %v", err)
	}
	c.Write([]byte("hello\n"))
	c.Close()
	<-closed // the server's reader saw EOF and returned
}

func modeHeartbeat(fs *flag.FlagSet) func() {
	conns := fs.Int("conns", 20, "connections opened and closed in all")
	every := fs.Duration("every", 200*time.Millisecond, "time between connections after the first 5")
	beat := fs.Duration("beat", 500*time.Millisecond, "heartbeat period")
	return func() {
		s := &hbServer{ln: listenLocal(), beat: *beat, closed: make(chan struct{}, *conns)}
		addr := s.ln.Addr().String()
		go s.acceptLoop() // SITE: hbaccept
		first := 0
		for ; first < 5 && first < *conns; first++ {
			openAndClose(addr, s.closed)
		}
		go func(n int) { // SITE: hbclient
			for n < *conns {
				time.Sleep(*every) // WAIT: hbclient
				openAndClose(addr, s.closed)
				n++
				fmt.Println("heartbeats", n)
			}
		}(first)
		time.Sleep(50 * time.Millisecond) // the last heartbeat reaches its select
		fmt.Println("blocked", first)
	}
}

// --- tcp: an outbound call with no deadline to a peer that accepts and never answers --------

//go:noinline
func silentPeer(ln net.Listener) {
	var held []net.Conn // accepted, read by nobody, never answered nor closed
	for {
		c, err := ln.Accept() // WAIT: tcpaccept
		if err != nil {
			return
		}
		held = append(held, c)
	}
}

//go:noinline
func callPeer(addr string, calling *atomic.Int64) {
	c, err := net.Dial("tcp", addr) // no timeout, and no deadline on the connection
	if err != nil {
		fail("dial: %v", err)
	}
	c.Write([]byte("GET /quote\n"))
	calling.Add(1)
	reply := make([]byte, 512)
	c.Read(reply) // WAIT: tcpcall
}

func modeTCP(fs *flag.FlagSet) func() {
	n := fs.Int("n", 3, "callers")
	return func() {
		ln := listenLocal()
		go silentPeer(ln) // SITE: tcpaccept
		var calling atomic.Int64
		for i := 0; i < *n; i++ {
			go callPeer(ln.Addr().String(), &calling) // SITE: tcpcall
		}
		waitFor(func() bool { return calling.Load() == int64(*n) })
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", *n)
	}
}
