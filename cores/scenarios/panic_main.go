package main

import (
	"errors"
	"time"

	"example.com/scenarios/internal/work"
)

// ErrBadLimit is wrapped by the ConfigError that panic_main panics with.
var ErrBadLimit = errors.New("limit out of range")

// ConfigError is the custom error type panic_main panics with; its Error()
// string is "config limit=42: limit out of range".
type ConfigError struct {
	Key   string
	Value int
	Err   error
}

func (e *ConfigError) Error() string {
	return "config " + e.Key + "=" + itoa(e.Value) + ": " + e.Err.Error()
}

func (e *ConfigError) Unwrap() error { return e.Err }

func itoa(v int) string {
	if v == 0 {
		return "0"
	}
	neg := v < 0
	if neg {
		v = -v
	}
	var buf [20]byte
	i := len(buf)
	for v > 0 {
		i--
		buf[i] = byte('0' + v%10)
		v /= 10
	}
	if neg {
		i--
		buf[i] = '-'
	}
	return string(buf[i:])
}

const maxLimit = 10

func panicMain() {
	// Five goroutines parked in known places (chan receive, chan send,
	// select, mutex, sleep) before main panics.
	work.ParkFive()
	time.Sleep(50 * time.Millisecond)
	loadConfig("limit", 42)
}

//go:noinline
func loadConfig(key string, value int) {
	applyLimit(key, value)
}

//go:noinline
func applyLimit(key string, value int) {
	checkLimit(key, value)
}

// checkLimit is small enough to be inlined into applyLimit in optimised
// builds, so the panic frame is an inlined frame.
func checkLimit(key string, value int) {
	if value > maxLimit {
		panic(&ConfigError{Key: key, Value: value, Err: ErrBadLimit})
	}
}
