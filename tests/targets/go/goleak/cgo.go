//go:build cgo

// Mode cgo (see goleak.go): goroutines stuck in C calls that never return, each pinning an
// OS thread in C code. Built only with cgo (the -cgo variant); nocgo.go stands in otherwise.
package main

/*
#include <pthread.h>
#include <unistd.h>

static pthread_mutex_t held_mutex = PTHREAD_MUTEX_INITIALIZER;
static int held_pipe[2];   // the holder writes one byte once it holds held_mutex
static int silent_pipe[2]; // nobody ever writes

// An error path: the thread takes held_mutex and ends without giving it back.
static void *hold_forever(void *arg)
{
	pthread_mutex_lock(&held_mutex);
	write(held_pipe[1], "h", 1);
	return NULL;
}

// start_holder starts a C thread that takes held_mutex and ends holding it; returns once the
// mutex is held and its holder gone.
static int start_holder(void)
{
	pthread_t t;
	char c;

	if (pipe(held_pipe) || pipe(silent_pipe) || pthread_create(&t, NULL, hold_forever, NULL))
		return -1;
	return read(held_pipe[0], &c, 1) == 1 && !pthread_join(t, NULL) ? 0 : -1;
}

static void lock_forever(void)
{
	pthread_mutex_lock(&held_mutex); // WAIT: clock
}

static void read_forever(void)
{
	char c;

	read(silent_pipe[0], &c, 1); // WAIT: cread
}
*/
import "C"

import (
	"flag"
	"fmt"
	"sync/atomic"
	"time"
)

//go:noinline
func cgoLock(calling *atomic.Int64) {
	calling.Add(1)
	C.lock_forever() // WAIT: cgolock
}

//go:noinline
func cgoRead(calling *atomic.Int64) {
	calling.Add(1)
	C.read_forever() // WAIT: cgoread
}

//go:noinline
func startCgoCalls(calling *atomic.Int64) {
	go cgoLock(calling) // SITE: cgolock
	go cgoRead(calling) // SITE: cgoread
}

func modeCgo(fs *flag.FlagSet) func() {
	return func() {
		if C.start_holder() != 0 {
			fail("cgo: cannot start the C thread holding the mutex")
		}
		var calling atomic.Int64
		startCgoCalls(&calling)
		waitFor(func() bool { return calling.Load() == 2 })
		time.Sleep(100 * time.Millisecond) // both threads are in C, blocked
		fmt.Println("blocked", 2)
	}
}
