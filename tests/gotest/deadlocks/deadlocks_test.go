// Tests that deadlock the whole program, the shapes of GoKer's blocking bugs, for strand's
// live proof (tests/bpf/test_go_deadlock.py): each test, run alone, leaves every goroutine of
// the program blocked on a channel or a lock. The runtime would say "all goroutines are
// asleep", but the -test.timeout alarm, a pending timer, keeps it from looking: the test
// hangs until the alarm panics. strand, attached with -p meanwhile, must prove the deadlock.
package deadlocks

import (
	"sync"
	"testing"
	"time"
)

// Two goroutines take two mutexes in opposite orders; the test waits for both.
func TestABBA(t *testing.T) {
	var a, b sync.Mutex
	var wg sync.WaitGroup
	aHeld, bHeld := make(chan struct{}), make(chan struct{})
	wg.Add(2)
	go func() { // SITE: ab
		defer wg.Done()
		a.Lock()
		close(aHeld)
		<-bHeld
		b.Lock() // WAIT: ab
	}()
	go func() { // SITE: ba
		defer wg.Done()
		b.Lock()
		close(bHeld)
		<-aHeld
		a.Lock() // WAIT: ba
	}()
	wg.Wait() // WAIT: abba test
}

// A worker sends its result on a channel the test no longer reads: the test waits for the
// worker to finish, the worker for the test to read.
func TestSendAfterReceiverLeft(t *testing.T) {
	results := make(chan int)
	done := make(chan struct{})
	go func() { // SITE: sender
		results <- 42 // WAIT: sender
		close(done)
	}()
	<-done // WAIT: send test
}

// Not a deadlock (the control): the test waits on a channel a timer will close, far in the
// future. Every goroutine is blocked, but a pending timer will run code that wakes one.
func TestWokenByATimer(t *testing.T) {
	wake := make(chan struct{})
	time.AfterFunc(time.Hour, func() { close(wake) })
	<-wake // WAIT: timer test
}

// A partial leak (no global deadlock: the test goes on, here asleep): fetch gives up on
// a cancelled context before reading its worker's result, and the worker stays parked
// sending it, on a channel only it still holds.
func fetch(done <-chan struct{}, id int) int {
	out := make(chan int)
	go func() { // SITE: leak
		out <- id // WAIT: leak
	}()
	select {
	case <-done:
		return -1
	default:
	}
	return <-out
}

// Parked on a channel the test still holds and will use after its sleep: reachable.
func TestLeakedSendersBesideAHeldChannel(t *testing.T) {
	cancelled := make(chan struct{})
	close(cancelled)
	for i := 0; i < 3; i++ {
		fetch(cancelled, i)
	}
	jobs := make(chan int)
	go func() { // SITE: held
		for j := range jobs { // WAIT: held
			_ = j
		}
	}()
	time.Sleep(time.Hour) // WAIT: sleeping test
	close(jobs)
}

// A worker that returns early on an error path skips its Done: the test waits for a
// WaitGroup that never reaches zero.
func TestWaitGroupNeverZero(t *testing.T) {
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(i int) { // SITE: wg worker
			if i == 1 {
				return // the error path: no Done
			}
			wg.Done()
		}(i)
	}
	wg.Wait() // WAIT: wg test
}

// A consumer waits on a condition variable the producer never signals (it set the flag
// under the lock and forgot the Signal).
func TestCondNeverSignalled(t *testing.T) {
	var mu sync.Mutex
	cond := sync.NewCond(&mu)
	ready := false
	done := make(chan struct{})
	go func() { // SITE: cond waiter
		mu.Lock()
		for !ready {
			cond.Wait() // WAIT: cond waiter
		}
		mu.Unlock()
		close(done)
	}()
	<-done // WAIT: cond test
}

// A select whose every case is a channel nobody will ever use.
func TestSelectWithNoLiveCase(t *testing.T) {
	results, errs := make(chan int), make(chan error)
	go func() { // SITE: selector
		select { // WAIT: selector
		case <-results:
		case <-errs:
		}
	}()
	var wg sync.WaitGroup
	wg.Add(1)
	wg.Wait() // WAIT: select test
}

type request struct {
	mu sync.Mutex
	id int
}

// A lock left locked on an error path: each request's waiter blocks on a mutex of that
// request's, which only the waiter still holds. Beside it, a waiter on a lock a global
// holds (reachable: whoever holds the global may unlock it).
var heldLock sync.Mutex

func handle(id int) {
	r := &request{id: id}
	r.mu.Lock()
	go func() { // SITE: lockleak
		r.mu.Lock() // WAIT: lockleak
		r.mu.Unlock()
	}()
	if id >= 0 {
		return // the error path: no Unlock
	}
	r.mu.Unlock()
}

func TestLeakedLockWaitersBesideAGlobalLock(t *testing.T) {
	for i := 0; i < 3; i++ {
		handle(i)
	}
	heldLock.Lock()
	go func() { // SITE: globallock
		heldLock.Lock() // WAIT: globallock
		heldLock.Unlock()
	}()
	time.Sleep(time.Hour) // WAIT: sleeping lock test
	heldLock.Unlock()
}

type job struct {
	mu   sync.Mutex
	cond *sync.Cond
	done bool
}

// A waiter per job on the job's condition, and the job dropped on an error path without its
// Broadcast: only the waiters still hold the jobs. Beside them, a waiter on a global's
// condition (reachable: whoever holds the global may signal it).
var globalMu sync.Mutex
var globalCond = sync.NewCond(&globalMu)

func startJob(id int) {
	j := &job{}
	j.cond = sync.NewCond(&j.mu)
	go func() { // SITE: condleak
		j.mu.Lock()
		for !j.done {
			j.cond.Wait() // WAIT: condleak
		}
		j.mu.Unlock()
	}()
	if id >= 0 {
		return // the error path: no Broadcast
	}
	j.mu.Lock()
	j.done = true
	j.cond.Broadcast()
	j.mu.Unlock()
}

func TestLeakedCondWaitersBesideAGlobalCond(t *testing.T) {
	for i := 0; i < 3; i++ {
		startJob(i)
	}
	go func() { // SITE: globalcond
		globalMu.Lock()
		globalCond.Wait() // WAIT: globalcond
		globalMu.Unlock()
	}()
	time.Sleep(time.Hour) // WAIT: sleeping cond test
}
