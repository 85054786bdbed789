// Command labels is the fixture program for goroutine labels (pprof.Do).
//
// `labels labels` starts request handlers and workers under pprof.Do with
// several label sets (inherited, nested with an overridden key, ten labels,
// values that need quoting, an empty value, a value longer than Delve's
// 64-byte string limit), parks them on a channel, a mutex and a sleep, lets
// them settle, then panics in main with labels set by SetGoroutineLabels. Run with
// GOTRACEBACK=crash the runtime prints every goroutine's stack (the oracle)
// and dumps core. docs and tests name goroutines by their functions, never by
// id: ids depend on which P started them.
package main

import (
	"context"
	"os"
	"runtime/pprof"
	"strings"
	"sync"
	"time"
)

var (
	ready   sync.WaitGroup
	block   = make(chan struct{})
	held    sync.Mutex
	crashed = "labels crash: shutdown with handlers parked"
)

// serve is a request handler parked on a channel receive.
//
//go:noinline
func serve(ctx context.Context) {
	ready.Done()
	<-block
}

// inherit runs in a goroutine started inside pprof.Do without its own labels:
// the runtime copies the creator's labels to it.
//
//go:noinline
func inherit() {
	ready.Done()
	<-block
}

// batchWorker waits for the mutex main holds (nested pprof.Do overriding a key).
//
//go:noinline
func batchWorker(ctx context.Context) {
	ready.Done()
	held.Lock()
	held.Unlock()
}

// manyLabels has ten labels: Delve prints five and "... (5 more)".
//
//go:noinline
func manyLabels(ctx context.Context) {
	ready.Done()
	<-block
}

// quoted has values that need quoting and one longer than 64 bytes.
//
//go:noinline
func quoted(ctx context.Context) {
	ready.Done()
	time.Sleep(time.Hour)
}

// emptyValue has a label whose value is the empty string.
//
//go:noinline
func emptyValue(ctx context.Context) {
	ready.Done()
	<-block
}

// unlabelled runs with no labels at all.
//
//go:noinline
func unlabelled() {
	ready.Done()
	<-block
}

// crash sets its labels with SetGoroutineLabels, as a handler may: unlike
// pprof.Do, nothing restores them when the panic runs the deferred calls, so
// the crashing goroutine still has them in the core.
//
//go:noinline
func crash(ctx context.Context) {
	pprof.SetGoroutineLabels(pprof.WithLabels(ctx, pprof.Labels("phase", "shutdown", "service", "api")))
	panic(crashed)
}

func start() {
	ctx := context.Background()
	ready.Add(1)
	go unlabelled()
	pprof.Do(ctx, pprof.Labels("service", "api"), func(ctx context.Context) {
		routes := []struct{ route, method string }{
			{"/users", "GET"}, {"/orders", "POST"}, {"/users", "DELETE"},
		}
		for _, r := range routes {
			r := r
			ready.Add(1)
			go pprof.Do(ctx, pprof.Labels("route", r.route, "method", r.method), serve)
		}
		ready.Add(1)
		go inherit()
		ready.Add(1)
		go pprof.Do(ctx, pprof.Labels("service", "batch", "job", "reindex"), batchWorker)
		var kv []string
		for i := 0; i < 10; i++ {
			kv = append(kv, "k"+string(rune('0'+i)), "v"+string(rune('0'+i)))
		}
		ready.Add(1)
		go pprof.Do(ctx, pprof.Labels(kv...), manyLabels)
		ready.Add(1)
		go pprof.Do(ctx, pprof.Labels("tenant", "acme \"corp\"\n\tcafé", "long", strings.Repeat("0123456789", 10)), quoted)
		ready.Add(1)
		go pprof.Do(ctx, pprof.Labels("empty", ""), emptyValue)
	})
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "labels" {
		os.Stderr.WriteString("usage: labels labels\n")
		os.Exit(2)
	}
	held.Lock()
	start()
	ready.Wait()
	time.Sleep(200 * time.Millisecond)
	crash(context.Background())
	os.Stderr.WriteString("scenario labels returned without crashing\n")
	os.Exit(3)
}
