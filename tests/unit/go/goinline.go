// goinline: ground truth for strand's expansion of inlined calls (tests/unit/test_gopclntab.c
// and test_symbolize.c). Nothing here is marked //go:noinline but capture, so the compiler
// inlines the rest. It prints where main.main is ("main.main 0x..."), then every goroutine's
// traceback, as the runtime itself expands inlined calls, then "end", and waits for its
// standard input to close.
//
// The MARK comments name the lines the tests expect:
//
//	read:   a goroutine blocked in syscall.Read (syscall_unix.go), inlined into blockInRead
//	go:     the goroutine's `go` statement, in spawnInlined (Go 1.19 inlines no function
//	        holding one), called from spawner, itself inlined into main.main (spawner, spawn)
//	level3, level2, level1, deep: three levels of inlined calls in main.main around capture
package main

import (
	"fmt"
	"os"
	"reflect"
	"runtime"
	"syscall"
	"time"
)

var sink int

//go:noinline
func capture() []byte {
	buf := make([]byte, 1<<20)
	return buf[:runtime.Stack(buf, true)]
}

func level3(x int) []byte {
	sink += x
	return capture() // MARK: level3
}

func level2(x int) []byte {
	return level3(x + 1) // MARK: level2
}

func level1(x int) []byte {
	return level2(x * 2) // MARK: level1
}

func blockInRead(fd int, ready chan<- bool) {
	buf := make([]byte, 1)
	ready <- true
	syscall.Read(fd, buf) // MARK: read
}

func spawnInlined(fd int, ready chan bool) {
	go blockInRead(fd, ready) // MARK: go
}

func spawner(fd int, ready chan bool) {
	spawnInlined(fd, ready) // MARK: spawner
}

// inSyscall: whether the goroutine blocked in the read has entered it.
func inSyscall() bool {
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	for i := 0; i+len("[syscall") <= n; i++ {
		if string(buf[i:i+len("[syscall")]) == "[syscall" {
			return true
		}
	}
	return false
}

func main() {
	r, w, err := os.Pipe() // w stays open: the read never ends
	if err != nil {
		panic(err)
	}
	fmt.Printf("main.main %#x\n", reflect.ValueOf(main).Pointer())
	ready := make(chan bool)
	spawner(int(r.Fd()), ready) // MARK: spawn
	<-ready
	for i := 0; i < 500 && !inSyscall(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	stack := level1(len(os.Args)) // MARK: deep
	os.Stdout.Write(stack)
	fmt.Println("\nend")
	buf := make([]byte, 64)
	for {
		if n, _ := os.Stdin.Read(buf); n == 0 {
			break
		}
	}
	w.Close()
}
