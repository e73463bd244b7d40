package anchor_test

import (
	"bytes"
	"context"
	"errors"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/anchor/anchortest"
)

// backend opens an empty Store of one kind.
type backend struct {
	name string
	open func(t *testing.T) anchor.Store
}

// backends are the Store implementations the conformance tests run on:
// a directory, and S3 (versitygw with Object Lock) with and without a key
// prefix.
func backends() []backend {
	return []backend{
		{"dir", func(t *testing.T) anchor.Store {
			d, err := anchor.NewDir(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			return d
		}},
		{"s3", func(t *testing.T) anchor.Store {
			env := anchortest.StartVersity(t)
			return newS3(t, env, env.Bucket(true), func(c *anchor.S3Config) {})
		}},
		{"s3-prefix", func(t *testing.T) anchor.Store {
			env := anchortest.StartVersity(t)
			return newS3(t, env, env.Bucket(true), func(c *anchor.S3Config) { c.Prefix = "tenant-a/" })
		}},
	}
}

func forEachBackend(t *testing.T, f func(t *testing.T, st anchor.Store)) {
	for _, b := range backends() {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			f(t, b.open(t))
		})
	}
}

func TestStorePutGetOnce(t *testing.T) {
	payloads := []struct {
		name string
		data []byte
	}{
		{"json", []byte(`{"seq":1,"statement":"rgw-checkpoint v1","signature":"AAAA"}`)},
		{"binary", []byte{0, 1, 2, 0xff, '\n', 0}},
		{"64KiB", bytes.Repeat([]byte("0123456789abcdef"), 4096)},
	}
	forEachBackend(t, func(t *testing.T, st anchor.Store) {
		ctx := context.Background()
		for i, p := range payloads {
			key := anchor.Key(uint64(i + 1))
			if err := st.Put(ctx, key, p.data); err != nil {
				t.Fatalf("%s: put: %v", p.name, err)
			}
			got, err := st.Get(ctx, key)
			if err != nil || !bytes.Equal(got, p.data) {
				t.Fatalf("%s: get = %d bytes, %v; want the %d bytes put", p.name, len(got), err, len(p.data))
			}
			// Second Put, same or different data: ErrExists, bytes unchanged.
			for _, again := range [][]byte{[]byte("forged"), p.data} {
				err := st.Put(ctx, key, again)
				if !errors.Is(err, anchor.ErrExists) {
					t.Fatalf("%s: second put = %v, want ErrExists", p.name, err)
				}
				if !strings.Contains(err.Error(), key) {
					t.Errorf("%s: error %q does not name the key", p.name, err)
				}
			}
			if got, err := st.Get(ctx, key); err != nil || !bytes.Equal(got, p.data) {
				t.Fatalf("%s: after the refused put: get = %q, %v", p.name, got, err)
			}
		}
		missing := anchor.Key(999)
		_, err := st.Get(ctx, missing)
		if !errors.Is(err, anchor.ErrNotFound) || !strings.Contains(err.Error(), missing) {
			t.Fatalf("get missing = %v, want ErrNotFound naming the key", err)
		}
	})
}

func TestStoreList(t *testing.T) {
	// Unpadded, these would sort 10 < 100 < 1000 < 18446744073709551615 < 9.
	seqs := []uint64{9, 10, 0, 100, 99, 1000, 1 << 40, math.MaxUint64, 1, 11}
	forEachBackend(t, func(t *testing.T, st anchor.Store) {
		ctx := context.Background()
		if keys, err := st.List(ctx, "checkpoints/"); err != nil || len(keys) != 0 {
			t.Fatalf("empty store: list = %q, %v", keys, err)
		}
		for _, s := range seqs {
			if err := st.Put(ctx, anchor.Key(s), []byte("x")); err != nil {
				t.Fatal(err)
			}
		}
		if err := st.Put(ctx, "other/a.json", []byte("y")); err != nil {
			t.Fatal(err)
		}
		want := make([]string, len(seqs))
		sorted := slices.Sorted(slices.Values(seqs))
		for i, s := range sorted {
			want[i] = anchor.Key(s)
		}
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"checkpoints/", want},
			{"checkpoints/0", want[:len(want)-1]},         // all but MaxUint64 (1844...)
			{"checkpoints/0000000000000000000", want[:3]}, // single digits: 0, 1, 9
			{"", append(slices.Clone(want), "other/a.json")},
			{"other/", []string{"other/a.json"}},
			{"nothing/", []string{}},
		} {
			got, err := st.List(ctx, tc.prefix)
			if err != nil {
				t.Fatalf("list %q: %v", tc.prefix, err)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("list %q = %q, want %q", tc.prefix, got, tc.want)
			}
		}
		keys, _ := st.List(ctx, "checkpoints/")
		for i, k := range keys {
			if s, err := anchor.ParseKey(k); err != nil || s != sorted[i] {
				t.Fatalf("key %d = %q (%d, %v), want seq %d", i, k, s, err, sorted[i])
			}
		}
	})
}

func TestStoreInvalidKeys(t *testing.T) {
	bad := []string{"", "/abs", "../up", "a/../b", "a//b", "./a", "a/", `a\b`, "a\nb", "a\x00b", strings.Repeat("k", 1025)}
	forEachBackend(t, func(t *testing.T, st anchor.Store) {
		ctx := context.Background()
		for _, k := range bad {
			if err := st.Put(ctx, k, []byte("x")); err == nil || errors.Is(err, anchor.ErrExists) {
				t.Errorf("put %q = %v, want an invalid-key error", k, err)
			}
			if _, err := st.Get(ctx, k); err == nil || errors.Is(err, anchor.ErrNotFound) {
				t.Errorf("get %q = %v, want an invalid-key error", k, err)
			}
		}
		if keys, err := st.List(ctx, ""); err != nil || len(keys) != 0 {
			t.Fatalf("list after invalid puts = %q, %v", keys, err)
		}
	})
}

// Concurrent Puts of one key (several gateway replicas anchoring the same
// checkpoint): exactly one wins, the rest get ErrExists, and Get returns
// the winner's bytes.
func TestStoreConcurrentPut(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st anchor.Store) {
		ctx := context.Background()
		const n = 8
		key := anchor.Key(42)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() { errs[i] = st.Put(ctx, key, []byte{byte('a' + i)}) })
		}
		wg.Wait()
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil && winner >= 0:
				t.Fatalf("puts %d and %d both succeeded", winner, i)
			case err == nil:
				winner = i
			case !errors.Is(err, anchor.ErrExists):
				t.Fatalf("put %d: %v", i, err)
			}
		}
		if winner < 0 {
			t.Fatal("no put succeeded")
		}
		got, err := st.Get(ctx, key)
		if err != nil || !bytes.Equal(got, []byte{byte('a' + winner)}) {
			t.Fatalf("get = %q, %v; want the winner's %q", got, err, string(rune('a'+winner)))
		}
	})
}

func TestStoreCanceledContext(t *testing.T) {
	forEachBackend(t, func(t *testing.T, st anchor.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		key := anchor.Key(7)
		if err := st.Put(ctx, key, []byte("x")); err == nil || errors.Is(err, anchor.ErrExists) {
			t.Fatalf("put with a canceled context = %v, want an error", err)
		}
		ctx, cancel2 := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel2()
		if _, err := st.Get(ctx, key); !errors.Is(err, anchor.ErrNotFound) {
			t.Fatalf("after a canceled put: get = %v, want ErrNotFound", err)
		}
	})
}
