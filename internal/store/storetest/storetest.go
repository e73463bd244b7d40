// Package storetest is the conformance suite every store.Store backend must
// pass. A backend's tests call Run with a function that opens a fresh store.
//
// The store's clock is a clock.Fake that the tests move: "now" is exact and
// time passes only when a test says so, so nothing sleeps or depends on
// the speed of the machine.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Opener opens a fresh, empty, migrated store for the given (sub)test that
// reads the time from c (store.WithClock), and closes it at the test's
// cleanup; the suite may already have closed it by then, so Close must
// tolerate being called twice.
type Opener func(t *testing.T, c clock.Clock) store.Store

// Run runs the whole suite, one parallel subtest per behaviour, each on its
// own store and fake clock.
func Run(t *testing.T, open Opener) {
	groups := [][]subtest{
		userTests, roleBindingTests, tokenTests, auditTests, auditStatsTests, settingTests, lifecycleTests, sessionTests, mfaTests, deployTests,
		jobTests,
	}
	for _, g := range groups {
		for _, st := range g {
			t.Run(st.name, func(t *testing.T) {
				t.Parallel()
				clk := clock.NewFake(Epoch)
				st.fn(t, open(t, clk), clk)
			})
		}
	}
}

// Epoch is where each subtest's fake clock starts: not UTC and not on a
// microsecond, so that stores must normalize the clock's time too.
var Epoch = time.Date(2026, 5, 6, 7, 8, 9, 123456789, time.FixedZone("UTC+3", 3*3600))

// subtest is one named check run on its own fresh store.
type subtest struct {
	name string
	fn   func(t *testing.T, s store.Store, clk *clock.Fake)
}

// ctx returns a context for store calls, cancelled when the test ends.
func ctx(t *testing.T) context.Context { return t.Context() }

// wantErr fails t unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: error %v, want %v", what, err, target)
	}
}

// must fails t if err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// checkTime fails t unless got is the stored form of want: equal after
// truncation to microseconds, in UTC, and zero exactly when want is zero.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	switch {
	case want.IsZero() && !got.IsZero():
		t.Errorf("%s = %v, want zero", what, got)
	case want.IsZero():
	case !got.Equal(want.Truncate(time.Microsecond)):
		t.Errorf("%s = %v, want %v", what, got, want.Truncate(time.Microsecond))
	case got.Location() != time.UTC:
		t.Errorf("%s = %v, want UTC", what, got)
	}
}

// checkNow fails t unless got is the store's "now": the clock's time as
// stored, in UTC with microsecond precision.
func checkNow(t *testing.T, what string, got time.Time, clk clock.Clock) {
	t.Helper()
	want := store.NormalizeTime(clk.Now())
	if !got.Equal(want) || got.Location() != time.UTC || got.Nanosecond()%1000 != 0 {
		t.Errorf("%s = %v, want the store's now, %v", what, got, want)
	}
}

// diff lists the fields in which the structs want and got differ. Times
// compare with Equal, and nil and empty slices are equal.
func diff(want, got any) []string {
	wv, gv := reflect.ValueOf(want), reflect.ValueOf(got)
	var out []string
	for i := range wv.NumField() {
		f := wv.Type().Field(i)
		w, g := wv.Field(i), gv.Field(i)
		var eq bool
		switch {
		case f.Type == reflect.TypeFor[time.Time]():
			eq = w.Interface().(time.Time).Equal(g.Interface().(time.Time))
		case f.Type.Kind() == reflect.Slice && w.Len() == 0:
			eq = g.Len() == 0
		default:
			eq = reflect.DeepEqual(w.Interface(), g.Interface())
		}
		if !eq {
			out = append(out, fmt.Sprintf("%s: got %#v, want %#v", f.Name, g.Interface(), w.Interface()))
		}
	}
	return out
}

// checkSame fails t if want and got (structs of one type) differ.
func checkSame(t *testing.T, what string, want, got any) {
	t.Helper()
	if d := diff(want, got); len(d) > 0 {
		t.Errorf("%s differs:\n%v", what, d)
	}
}

// mustUser creates a user with the given email and role.
func mustUser(t *testing.T, s store.Store, email, role string) *store.User {
	t.Helper()
	u := &store.User{Email: email, Role: role}
	must(t, "create user "+email, s.CreateUser(ctx(t), u))
	return u
}

// Migrated is the tail of a backend's test opener: it fails t if Open
// returned err, closes s when t ends, and migrates s.
func Migrated[S store.Store](t testing.TB, s S, err error) S {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return s
}
