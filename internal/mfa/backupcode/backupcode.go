// Package backupcode generates, canonicalises and hashes single-use backup
// codes: 10 characters from a 31-character alphabet (about 49.5 bits),
// shown as xxxxx-xxxxx. Only their hashes are stored; the codes are shown
// once, when generated.
package backupcode

import (
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// Alphabet is the set of characters of a code: lower-case letters and
// digits without 0, o, 1, l and i, which are easily confused when read off
// paper or a screen.
const Alphabet = "23456789abcdefghjkmnpqrstuvwxyz"

// Length is the number of alphabet characters in a code.
const Length = 10

// MaxCount bounds Generate's n.
const MaxCount = 100

// hashPrefix separates these hashes from any other SHA-256 of the same
// string, and versions the scheme.
const hashPrefix = "rack-gateway backup code v1\x00"

// inAlphabet[c] reports whether byte c is in Alphabet.
var inAlphabet = func() (t [256]bool) {
	for i := 0; i < len(Alphabet); i++ {
		t[Alphabet[i]] = true
	}
	return t
}()

// Generate returns n distinct new codes (1 ≤ n ≤ MaxCount) formatted for
// display as xxxxx-xxxxx. Canonical turns them, or what a user types, into
// the form Hash takes.
func Generate(n int) ([]string, error) {
	if n < 1 || n > MaxCount {
		return nil, fmt.Errorf("backupcode: count %d out of range 1..%d", n, MaxCount)
	}
	codes := make([]string, 0, n)
	seen := make(map[string]bool, n)
	for len(codes) < n {
		c, err := generate()
		if err != nil {
			return nil, err
		}
		// A repeat is all but impossible (n²/2⁵⁰), but a set of codes
		// with a repeat would hold one code fewer than the user was told.
		if seen[c] {
			continue
		}
		seen[c] = true
		codes = append(codes, c[:5]+"-"+c[5:])
	}
	return codes, nil
}

// generate returns one canonical code, each character uniform over Alphabet.
func generate() (string, error) {
	// Rejection sampling: a byte below 248 (= 8·31) reduced mod 31 is
	// uniform; bytes 248..255 would favour the first characters.
	const limit = 256 - 256%len(Alphabet)
	out := make([]byte, 0, Length)
	buf := make([]byte, 2*Length)
	for len(out) < Length {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, b := range buf {
			if int(b) < limit && len(out) < Length {
				out = append(out, Alphabet[int(b)%len(Alphabet)])
			}
		}
	}
	return string(out), nil
}

// Canonical returns the canonical form of a code as typed: ASCII letters
// lower-cased, spaces, tabs and dashes removed. It reports false unless
// exactly Length alphabet characters remain. Confusable characters (0 o 1 l
// i) are refused rather than mapped: none of them is in the alphabet, so
// there is nothing unambiguous to map them to.
func Canonical(input string) (string, bool) {
	out := make([]byte, 0, Length)
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch {
		case c == ' ' || c == '\t' || c == '-':
			continue
		case 'A' <= c && c <= 'Z':
			c += 'a' - 'A'
		}
		// Non-ASCII bytes are never in the alphabet, so multi-byte
		// characters (full-width letters, look-alikes) are refused here.
		if !inAlphabet[c] || len(out) == Length {
			return "", false
		}
		out = append(out, c)
	}
	if len(out) != Length {
		return "", false
	}
	return string(out), true
}

// Hash returns the SHA-256 of a domain-separated canonical code, the value
// to store and to look up. Pass only Canonical's output: other spellings of
// the same code hash differently.
//
// A plain, unsalted hash is adequate because the codes are random with about
// 49.5 bits of entropy, not chosen by people: there is no dictionary to try,
// and a stolen hash needs on the order of 2⁴⁹ guesses per code, far too many
// to be worth it for one-time codes that the user can revoke by generating a
// new set. A slow hash would add cost to every login for little gain; the
// online guessing that matters is limited by the caller's attempt budgets.
func Hash(canonical string) []byte {
	h := sha256.New()
	h.Write([]byte(hashPrefix))
	h.Write([]byte(canonical))
	return h.Sum(nil)
}

// Looks reports whether input has the shape of a backup code: after the
// clean-up Canonical does, exactly Length ASCII letters or digits. It is
// looser than Canonical (it accepts 0, o, 1, l, i) so that a mistyped backup
// code is treated, and refused, as a backup code; it is false for a 6-digit
// TOTP code and a 32–48 character YubiKey OTP.
func Looks(input string) bool {
	n := 0
	for i := 0; i < len(input); i++ {
		c := input[i]
		switch {
		case c == ' ' || c == '\t' || c == '-':
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
			n++
		default:
			return false
		}
	}
	return n == Length
}
