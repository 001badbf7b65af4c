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

//go:noinline
func startHeartbeatServer(beat time.Duration, conns int) *hbServer {
	s := &hbServer{ln: listenLocal(), beat: beat, closed: make(chan struct{}, conns)}
	go s.acceptLoop() // SITE: hbaccept
	return s
}

// keepConnecting opens and closes a connection every period until there were conns.
//
//go:noinline
func keepConnecting(s *hbServer, n, conns int, every time.Duration) {
	for n < conns {
		time.Sleep(every) // WAIT: hbclient
		openAndClose(s.ln.Addr().String(), s.closed)
		n++
		fmt.Println("heartbeats", n)
	}
}

// connect opens and closes the first 5 connections, and leaves the others to a goroutine.
//
//go:noinline
func connect(s *hbServer, conns int, every time.Duration) int {
	first := 0
	for ; first < 5 && first < conns; first++ {
		openAndClose(s.ln.Addr().String(), s.closed)
	}
	go keepConnecting(s, first, conns, every) // SITE: hbclient
	return first
}

func modeHeartbeat(fs *flag.FlagSet) func() {
	conns := fs.Int("conns", 20, "connections opened and closed in all")
	every := fs.Duration("every", 200*time.Millisecond, "time between connections after the first 5")
	beat := fs.Duration("beat", 500*time.Millisecond, "heartbeat period")
	return func() {
		first := connect(startHeartbeatServer(*beat, *conns), *conns, *every)
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

//go:noinline
func startSilentPeer() string {
	ln := listenLocal()
	go silentPeer(ln) // SITE: tcpaccept
	return ln.Addr().String()
}

//go:noinline
func callPeers(addr string, n int, calling *atomic.Int64) {
	for i := 0; i < n; i++ {
		go callPeer(addr, calling) // SITE: tcpcall
	}
}

func modeTCP(fs *flag.FlagSet) func() {
	n := fs.Int("n", 3, "callers")
	return func() {
		var calling atomic.Int64
		callPeers(startSilentPeer(), *n, &calling)
		waitFor(func() bool { return calling.Load() == int64(*n) })
		time.Sleep(50 * time.Millisecond)
		fmt.Println("blocked", *n)
	}
}
