package anchor_test

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
)

func TestKey(t *testing.T) {
	for _, tc := range []struct {
		seq  uint64
		want string
	}{
		{0, "checkpoints/00000000000000000000.json"},
		{1, "checkpoints/00000000000000000001.json"},
		{1234567890, "checkpoints/00000000001234567890.json"},
		{math.MaxUint64, "checkpoints/18446744073709551615.json"},
	} {
		if got := anchor.Key(tc.seq); got != tc.want {
			t.Errorf("Key(%d) = %q, want %q", tc.seq, got, tc.want)
		}
		if got, err := anchor.ParseKey(tc.want); err != nil || got != tc.seq {
			t.Errorf("ParseKey(%q) = %d, %v; want %d", tc.want, got, err, tc.seq)
		}
	}
}

func TestParseKeyRejects(t *testing.T) {
	for _, k := range []string{
		"",
		"checkpoints/1.json",                     // not padded
		"checkpoints/000000000000000000001.json", // 21 digits
		"checkpoints/+0000000000000000001.json",  // sign
		"checkpoints/0000000000000000000x.json",
		"checkpoints/99999999999999999999.json", // overflows uint64
		"checkpoints/00000000000000000001.jsonx",
		"checkpoints/00000000000000000001",
		"other/00000000000000000001.json",
		"prefix/checkpoints/00000000000000000001.json",
		" checkpoints/00000000000000000001.json",
	} {
		if seq, err := anchor.ParseKey(k); err == nil {
			t.Errorf("ParseKey(%q) = %d, want an error", k, seq)
		}
	}
}

// Lexical order of keys is numeric order of sequence numbers, including
// values whose unpadded decimal forms sort the other way (9 > 10).
func TestKeyLexicalOrderIsNumeric(t *testing.T) {
	seqs := []uint64{0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1 << 32, 1<<63 - 1, 1 << 63, math.MaxUint64}
	for range 500 {
		seqs = append(seqs, rand.Uint64()>>rand.IntN(64))
	}
	slices.Sort(seqs)
	seqs = slices.Compact(seqs)
	keys := make([]string, len(seqs))
	for i, s := range seqs {
		keys[i] = anchor.Key(s)
	}
	shuffled := slices.Clone(keys)
	rand.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	slices.Sort(shuffled)
	if !slices.Equal(shuffled, keys) {
		t.Fatal("lexical order of keys differs from numeric order of seqs")
	}
	for i := 1; i < len(keys); i++ {
		if strings.Compare(keys[i-1], keys[i]) >= 0 {
			t.Fatalf("%q !< %q", keys[i-1], keys[i])
		}
	}
}
