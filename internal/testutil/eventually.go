// Package testutil holds helpers shared by the tests of several packages.
package testutil

import (
	"testing"
	"time"
)

// Patience bounds how long Eventually waits. It is a fail-safe against a
// hung test, not a timing assumption: conditions are expected to become
// true within milliseconds, and a loaded 2-core machine must never come
// near it.
const Patience = 60 * time.Second

// Eventually waits until cond returns true, checking it every few
// milliseconds, and fails the test (naming what it waited for) if that
// does not happen within Patience. Use it to wait for something another
// goroutine or process will do; never to let time pass (inject a clock or
// use testing/synctest for that).
func Eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	if !Poll(Patience, cond) {
		t.Fatalf("timed out after %v waiting for %s", Patience, what)
	}
}

// Poll checks cond every few milliseconds until it returns true (true) or
// limit has passed (false), for the callers that fail with a message of
// their own.
func Poll(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	wait := time.Millisecond
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(wait)
		wait = min(wait*2, 50*time.Millisecond)
	}
}
