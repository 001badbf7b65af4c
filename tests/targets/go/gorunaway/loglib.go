// A logging "library" that spawns a goroutine per message (mode logasync, scenario 7), and
// the three request handlers that call it.
package main

import (
	"flag"
	"fmt"
	"io"
	"sync/atomic"
	"time"
)

var (
	logDelay time.Duration // how long the sink takes to write one message
	logLive  atomic.Int64  // messages not written yet
)

// logAsync writes msg without making its caller wait: one goroutine per call.
//
//go:noinline
func logAsync(msg string) {
	logLive.Add(1)
	go writeLog(msg) // SITE: logasync
}

//go:noinline
func writeLog(msg string) {
	time.Sleep(logDelay) // WAIT: logasync
	io.WriteString(io.Discard, msg)
	logLive.Add(-1)
}

//go:noinline
func handleLogin() {
	for i := 0; i < 10; i++ {
		logAsync("login") // CALL: login
	}
}

//go:noinline
func handleOrder() {
	for i := 0; i < 20; i++ {
		logAsync("order") // CALL: order
	}
}

//go:noinline
func handleAudit() {
	for i := 0; i < 30; i++ {
		logAsync("audit") // CALL: audit
	}
}

func modeLogAsync(fs *flag.FlagSet) func() {
	fs.DurationVar(&logDelay, "sleep", time.Second, "how long each message takes to write")
	return func() {
		handleLogin()
		handleOrder()
		handleAudit()
		fmt.Println("spawned", 60)
		watch(&logLive, 60)
	}
}
