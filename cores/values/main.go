// Command values is the fixture program for coroner's variables tests.
//
// It puts known values of every Go kind in package globals and in the
// arguments and locals of //go:noinline functions that then block (in other
// goroutines) or panic (in main), and crashes with GOTRACEBACK=crash.
// os.Args[1] picks the scenario: "values" (the only one today).
package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"
)

type Inner struct {
	Name  string
	Tags  []string
	Score float64
}

type Outer struct {
	ID   int64
	In   Inner
	Ptr  *Inner
	Arr  [3]uint8
	Flag bool
}

type Pair[K comparable, V any] struct {
	Key K
	Val V
}

type Box[T any] struct {
	Items []T
	Count int
}

type MyErr struct {
	Code int
	Msg  string
}

func (e *MyErr) Error() string { return "code " + strconv.Itoa(e.Code) + ": " + e.Msg }

type Shape interface{ Area() float64 }

type Rect struct{ W, H float64 }

func (r Rect) Area() float64 { return r.W * r.H }

type Color int

const (
	Red Color = iota
	Green
	Blue
)

var (
	GInt      = 42
	GNeg      int32 = -7
	GU8       uint8 = 200
	GRune     rune  = 'x'
	GF32      float32 = 1.25
	GF64      = 3.141592653589793
	GBool     = true
	GString   = "global string"
	GEmpty    string
	GLongStr  = strings.Repeat("abcdefghij", 20)
	GBytes    = []byte("hello")
	GSlice    = []int{1, 2, 3, 4, 5}
	GSliceCap = make([]int, 2, 10)
	GBig      []int
	GArr      = [4]int16{-1, 0, 1, 2}
	GInner    = Inner{Name: "inner", Tags: []string{"a", "b"}, Score: 0.5}
	GOuter    = Outer{ID: 1001, In: Inner{Name: "nested", Tags: []string{"x"}, Score: 2.5}, Arr: [3]uint8{1, 2, 3}, Flag: true}
	GPtr      = &GOuter
	GNilPtr   *int
	GPtrPtr   **Outer
	GMapSmall = map[string]int{"one": 1, "two": 2, "three": 3}
	GMapStr   map[string]int
	GMapInt   map[int]string
	GNilMap   map[string]int
	GNilSlice []byte
	GChan     = make(chan int, 5)
	GRecvChan = make(chan string)
	GNilChan  chan int
	GIface    interface{} = 7
	GIfaceStr interface{} = "boxed"
	GIfacePtr interface{} = &GInner
	GNilIface interface{}
	GShape    Shape = Rect{W: 2, H: 3}
	GErr      error
	GErrPlain = errors.New("plain error")
	GFunc     = strings.ToUpper
	GClosure  func() int
	GNilFunc  func()
	GBox      Box[Pair[string, Box[int]]]
	GPairs    = []Pair[int, string]{{1, "one"}, {2, "two"}}
	GTime     = time.Date(2024, time.March, 15, 10, 30, 0, 123456789, time.UTC)
	GDur      = 1500 * time.Millisecond
	GDurLong  = 26*time.Hour + 3*time.Minute + 4*time.Second
	GUnsafe   unsafe.Pointer
	GC64      complex64  = complex(1.5, -2)
	GC128     complex128 = complex(3, 4.25)
	GColor    = Blue
	GStructs  = [2]Inner{{Name: "first"}, {Name: "second", Score: -1}}
	GAnySlice = []interface{}{1, "two", 3.0, nil}
	GMapNest  = map[string][]int{"evens": {2, 4}, "odds": {1, 3, 5}}
)

func init() {
	GBig = make([]int, 200)
	for i := range GBig {
		GBig[i] = i * i
	}
	GSliceCap[0], GSliceCap[1] = 10, 20
	GPtrPtr = &GPtr
	GMapStr = make(map[string]int)
	GMapInt = make(map[int]string)
	for i := 0; i < 300; i++ {
		GMapStr["key"+strconv.Itoa(i)] = i
		GMapInt[i*7] = "v" + strconv.Itoa(i)
	}
	GErr = fmt.Errorf("outer: %w", fmt.Errorf("middle: %w", &MyErr{Code: 7, Msg: "inner"}))
	captured := 5
	GClosure = func() int { return GInt + captured }
	GBox = Box[Pair[string, Box[int]]]{
		Items: []Pair[string, Box[int]]{{Key: "k1", Val: Box[int]{Items: []int{1, 2}, Count: 2}}},
		Count: 1,
	}
	GUnsafe = unsafe.Pointer(&GInt)
	// Fill the buffered channel; the blocked sender adds a sixth value.
	for i := 1; i <= 5; i++ {
		GChan <- i * 100
	}
}

var sinkv interface{}

//go:noinline
func sink(v ...interface{}) { sinkv = v }

// holder keeps arguments and locals of many kinds live across a block.
//
//go:noinline
func holder(n int, s string, o *Outer, m map[string]int, wait chan struct{}, ready chan<- struct{}) {
	local := n * 2
	name := s + "!"
	in := Inner{Name: "local inner", Tags: []string{"t1", "t2", "t3"}, Score: 9.75}
	ptr := &in
	arr := [3]string{"a", "b", "c"}
	sl := []int{7, 8, 9}
	var e error = &MyErr{Code: 3, Msg: "local"}
	var sh Shape = Rect{W: 1, H: 4}
	ok := true
	f := 2.5
	c := complex(1, 2)
	d := 90 * time.Second
	ready <- struct{}{}
	<-wait
	sink(local, name, in, ptr, arr, sl, e, sh, ok, f, c, d, n, s, o, m)
}

//go:noinline
func genericHold[T any](x T, items []T, wait chan struct{}, ready chan<- struct{}) {
	count := len(items)
	first := items[0]
	ready <- struct{}{}
	<-wait
	sink(x, items, count, first)
}

//go:noinline
func sender(ch chan int, v int) {
	ch <- v
}

//go:noinline
func receiver(ch chan string) string {
	return <-ch
}

// crash panics with its arguments and locals live.
//
//go:noinline
func crash(id int, label string, values []int, outer Outer, err error) {
	total := 0
	for _, v := range values {
		total += v
	}
	msg := fmt.Sprintf("%s total=%d", label, total)
	if total > 0 {
		panic(fmt.Sprintf("values crash: %s id=%d outer=%d err=%v", msg, id, outer.ID, err))
	}
	sink(id, label, values, outer, err, total, msg)
}

func scenarioValues() {
	wait := make(chan struct{})
	ready := make(chan struct{})
	go holder(21, "hello", &GOuter, GMapSmall, wait, ready)
	<-ready
	go genericHold[Pair[string, int]](Pair[string, int]{Key: "g", Val: 9}, []Pair[string, int]{{"a", 1}, {"b", 2}}, wait, ready)
	<-ready
	go sender(GChan, 600)
	go receiver(GRecvChan)
	// Let the sender and receiver park on their channels.
	for i := 0; i < 100; i++ {
		time.Sleep(10 * time.Millisecond)
		if len(GChan) == cap(GChan) && i > 10 {
			break
		}
	}
	sink(GFunc, GClosure, GNilFunc, GTime, GDur, GDurLong, GUnsafe, GC64, GC128, GColor, GStructs, GAnySlice, GMapNest, GNilChan, GNilMap, GNilSlice, GNilIface, GIfaceStr, GIfacePtr, GShape, GErrPlain, GBox, GPairs, GEmpty, GLongStr, GBytes, GBig, GArr, GNilPtr, GPtrPtr, GMapInt, GMapStr, GRecvChan, GNeg, GU8, GRune, GF32, GF64, GBool, GString, GSlice, GSliceCap, GIface, GErr)
	crash(77, "boom", []int{1, 2, 3}, GOuter, GErr)
}

func main() {
	if len(os.Args) < 2 || os.Args[1] != "values" {
		fmt.Fprintln(os.Stderr, "usage: values values")
		os.Exit(2)
	}
	scenarioValues()
	fmt.Fprintln(os.Stderr, "scenario values returned without crashing")
	os.Exit(3)
}
