package backupcode

import (
	"encoding/hex"
	"strings"
	"testing"
)

func TestAlphabet(t *testing.T) {
	if len(Alphabet) != 31 {
		t.Errorf("alphabet has %d characters, want 31", len(Alphabet))
	}
	for _, c := range "01oli" {
		if strings.ContainsRune(Alphabet, c) {
			t.Errorf("alphabet contains confusable %q", c)
		}
	}
	seen := map[rune]bool{}
	for _, c := range Alphabet {
		if seen[c] || !('a' <= c && c <= 'z' || '2' <= c && c <= '9') {
			t.Errorf("alphabet character %q repeated or out of range", c)
		}
		seen[c] = true
	}
}

func TestGenerateShape(t *testing.T) {
	codes, err := Generate(MaxCount)
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != MaxCount {
		t.Fatalf("%d codes, want %d", len(codes), MaxCount)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 11 || c[5] != '-' {
			t.Errorf("code %q is not xxxxx-xxxxx", c)
		}
		for i := 0; i < len(c); i++ {
			if i != 5 && !strings.ContainsRune(Alphabet, rune(c[i])) {
				t.Errorf("code %q has %q outside the alphabet", c, c[i])
			}
		}
		canon, ok := Canonical(c)
		if !ok || canon != c[:5]+c[6:] {
			t.Errorf("Canonical(%q) = %q, %v", c, canon, ok)
		}
		if !Looks(c) {
			t.Errorf("Looks(%q) = false", c)
		}
		if seen[canon] {
			t.Errorf("code %q repeated within a set", c)
		}
		seen[canon] = true
	}
}

// Every character of the alphabet turns up, in every position: a cheap
// check against a biased or truncated generator.
func TestGenerateCoversAlphabet(t *testing.T) {
	var counts [Length]map[byte]int
	for i := range counts {
		counts[i] = map[byte]int{}
	}
	for round := 0; round < 20; round++ {
		codes, err := Generate(MaxCount)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range codes {
			canon, _ := Canonical(c)
			for i := 0; i < Length; i++ {
				counts[i][canon[i]]++
			}
		}
	}
	// 2000 draws per position over 31 characters: each is expected ~65
	// times; missing one entirely has probability ~31·e⁻⁶⁵.
	for i, m := range counts {
		if len(m) != len(Alphabet) {
			t.Errorf("position %d saw %d distinct characters, want %d", i, len(m), len(Alphabet))
		}
	}
}

func TestGenerateCount(t *testing.T) {
	for _, n := range []int{1, 10} {
		codes, err := Generate(n)
		if err != nil || len(codes) != n {
			t.Errorf("Generate(%d) = %d codes, %v", n, len(codes), err)
		}
	}
	for _, n := range []int{-1, 0, MaxCount + 1} {
		if codes, err := Generate(n); err == nil {
			t.Errorf("Generate(%d) = %v, want an error", n, codes)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"abcde-23456", "abcde23456", true},
		{"abcde23456", "abcde23456", true},
		{"ABCDE-23456", "abcde23456", true},
		{"AbCdE 23456", "abcde23456", true},
		{"  abcde - 23456  ", "abcde23456", true},
		{"\tabcde23456\t", "abcde23456", true},
		{"a-b-c-d-e-2-3-4-5-6", "abcde23456", true},
		{"--abcde23456--", "abcde23456", true},
		{"zzzzzzzzzz", "zzzzzzzzzz", true},
		{"2222222222", "2222222222", true},
		{"", "", false},
		{"-----", "", false},
		{"abcde-2345", "", false},       // 9
		{"abcde-234567", "", false},     // 11
		{"abcde-23456-a", "", false},    // 11
		{"abcde-2345o", "", false},      // o
		{"abcde-23450", "", false},      // 0
		{"abcde-23451", "", false},      // 1
		{"abcdl-23456", "", false},      // l
		{"abcdi-23456", "", false},      // i
		{"ABCDI-23456", "", false},      // I
		{"ABCDO-23456", "", false},      // O
		{"abcde_23456", "", false},      // underscore
		{"abcde.23456", "", false},      // dot
		{"abcde\n23456", "", false},     // newline
		{"ａbcde-23456", "", false},      // full-width a
		{"\u212Abcde-23456", "", false}, // Kelvin sign, lower-cases to k in Unicode
		{"abcde-2345\x00", "", false},
		{"287082", "", false},
		{"ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded", "", false},
	} {
		got, ok := Canonical(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("Canonical(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestHash(t *testing.T) {
	// Frozen: changing the scheme invalidates every stored code.
	const want = "e5946881bb76d8601334f14c87732eeae94f4a3f5fcf3af17869a4a40851e470"
	if got := hex.EncodeToString(Hash("abcde23456")); got != want {
		t.Errorf("Hash(abcde23456) = %s, want %s", got, want)
	}
	if len(Hash("abcde23456")) != 32 {
		t.Error("hash is not 32 bytes")
	}
	if hex.EncodeToString(Hash("abcde23457")) == want {
		t.Error("different codes hash alike")
	}
	a, _ := Canonical("ABCDE-23456")
	b, _ := Canonical("abcde 23456")
	if string(Hash(a)) != string(Hash(b)) {
		t.Error("spellings of one code hash differently after Canonical")
	}
}

func TestLooks(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want bool
	}{
		{"abcde-23456", true},
		{"ABCDE 23456", true},
		{"abcde23456", true},
		{"abcde-2345o", true}, // mistyped backup code: refused later by Canonical
		{"0123456789", true},
		{"", false},
		{"287082", false},   // TOTP
		{" 287082 ", false}, // TOTP
		{"287 082", false},
		{"12345678", false},
		{"abcde-2345", false},
		{"abcde-234567", false},
		{"ccccccbcgujhingjrdejhgfnuetrgigvejhhgbkugded", false}, // YubiKey OTP (44)
		{"ccccccbcgujhingjrdejhgfnuetrgigv", false},             // YubiKey OTP (32)
		{"abcde_23456", false},
		{"ａbcde-23456", false},
	} {
		if got := Looks(tc.in); got != tc.want {
			t.Errorf("Looks(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
