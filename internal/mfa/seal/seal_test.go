package seal

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
)

func key(b byte) []byte { return bytes.Repeat([]byte{b}, KeySize) }

func b64(b byte) string { return base64.StdEncoding.EncodeToString(key(b)) }

func mustParse(t *testing.T, spec string) *Keyring {
	t.Helper()
	k, err := ParseKeyring(spec)
	if err != nil {
		t.Fatalf("ParseKeyring: %v", err)
	}
	return k
}

var aad = []byte("mfa_method:42:7")

func TestRoundTrip(t *testing.T) {
	k := mustParse(t, "k1:"+GenerateKey())
	for _, pt := range [][]byte{nil, {}, []byte("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"), bytes.Repeat([]byte{0xff}, 4096)} {
		id, ct, err := k.Seal(pt, aad)
		if err != nil {
			t.Fatal(err)
		}
		if id != "k1" {
			t.Errorf("key id %q, want k1", id)
		}
		if len(ct) != 12+len(pt)+16 {
			t.Errorf("ciphertext of %d bytes for %d bytes of plaintext", len(ct), len(pt))
		}
		if len(pt) > 0 && bytes.Contains(ct, pt) {
			t.Error("ciphertext contains the plaintext")
		}
		got, err := k.Open(id, ct, aad)
		if err != nil || !bytes.Equal(got, pt) {
			t.Errorf("Open = %q, %v; want %q", got, err, pt)
		}
	}
}

func TestSealUsesFreshNonces(t *testing.T) {
	k := mustParse(t, "k1:"+b64(1))
	_, a, _ := k.Seal([]byte("same"), aad)
	_, b, _ := k.Seal([]byte("same"), aad)
	if bytes.Equal(a[:12], b[:12]) || bytes.Equal(a, b) {
		t.Error("two seals of the same plaintext are equal")
	}
}

func TestOpenFailures(t *testing.T) {
	k := mustParse(t, "k1:"+b64(1)+",k2:"+b64(2))
	id, ct, err := k.Seal([]byte("secret"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := bytes.Clone(ct)
		c[i] ^= 1
		return c
	}
	for _, tc := range []struct {
		name string
		id   string
		ct   []byte
		aad  []byte
		want error
	}{
		{"other aad", id, ct, []byte("mfa_method:42:8"), ErrOpen},
		{"nil aad", id, ct, nil, ErrOpen},
		{"nonce byte flipped", id, flip(0), aad, ErrOpen},
		{"body byte flipped", id, flip(12), aad, ErrOpen},
		{"tag byte flipped", id, flip(len(ct) - 1), aad, ErrOpen},
		{"truncated by one", id, ct[:len(ct)-1], aad, ErrOpen},
		{"nonce and tag only, body cut", id, append(bytes.Clone(ct[:12]), ct[len(ct)-16:]...), aad, ErrOpen},
		{"shorter than nonce+tag", id, ct[:27], aad, ErrOpen},
		{"nonce only", id, ct[:12], aad, ErrOpen},
		{"empty", id, nil, aad, ErrOpen},
		{"extended", id, append(bytes.Clone(ct), 0), aad, ErrOpen},
		{"other known key", "k2", ct, aad, ErrOpen},
		{"unknown key", "k9", ct, aad, ErrUnknownKey},
		{"empty key id", "", ct, aad, ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pt, err := k.Open(tc.id, tc.ct, tc.aad)
			if !errors.Is(err, tc.want) || pt != nil {
				t.Fatalf("Open = %q, %v; want %v", pt, err, tc.want)
			}
		})
	}
	_, err = k.Open("k9", ct, aad)
	if !strings.Contains(err.Error(), `"k9"`) {
		t.Errorf("unknown key error %q does not name the id", err)
	}
}

func TestRotation(t *testing.T) {
	old := mustParse(t, "2024:"+b64(1))
	id, ct, err := old.Seal([]byte("totp secret"), aad)
	if err != nil || id != "2024" {
		t.Fatalf("Seal = %q, %v", id, err)
	}
	if old.NeedsReseal(id) {
		t.Error("NeedsReseal(primary) = true")
	}

	// A new key is rolled in first; the old one stays to open.
	rolled := mustParse(t, "2025:"+b64(2)+", 2024:"+b64(1))
	if got := rolled.PrimaryID(); got != "2025" {
		t.Fatalf("PrimaryID = %q, want 2025", got)
	}
	if got := rolled.IDs(); strings.Join(got, ",") != "2025,2024" {
		t.Errorf("IDs = %v", got)
	}
	pt, err := rolled.Open(id, ct, aad)
	if err != nil || string(pt) != "totp secret" {
		t.Fatalf("Open after rotation = %q, %v", pt, err)
	}
	if !rolled.NeedsReseal(id) {
		t.Error("NeedsReseal(old key) = false")
	}
	id2, ct2, err := rolled.Seal(pt, aad)
	if err != nil || id2 != "2025" || rolled.NeedsReseal(id2) {
		t.Fatalf("re-seal = %q, %v (needs reseal %v)", id2, err, rolled.NeedsReseal(id2))
	}
	// The old key is dropped once nothing names it.
	dropped := mustParse(t, "2025:"+b64(2))
	if pt, err := dropped.Open(id2, ct2, aad); err != nil || string(pt) != "totp secret" {
		t.Errorf("Open re-sealed = %q, %v", pt, err)
	}
	if _, err := dropped.Open(id, ct, aad); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("Open under dropped key: %v, want ErrUnknownKey", err)
	}
}

func TestNewKeyring(t *testing.T) {
	k, err := NewKeyring("new", key(2), map[string][]byte{"old": key(1), "older": key(0)})
	if err != nil {
		t.Fatal(err)
	}
	if k.PrimaryID() != "new" || strings.Join(k.IDs(), ",") != "new,old,older" {
		t.Errorf("PrimaryID %q, IDs %v", k.PrimaryID(), k.IDs())
	}
	// Same keys as a spec: each opens the other's seals.
	p := mustParse(t, "old:"+b64(1))
	id, ct, _ := p.Seal([]byte("x"), aad)
	if pt, err := k.Open(id, ct, aad); err != nil || string(pt) != "x" {
		t.Errorf("Open = %q, %v", pt, err)
	}
	for name, f := range map[string]func() (*Keyring, error){
		"bad primary id":   func() (*Keyring, error) { return NewKeyring("", key(1), nil) },
		"short primary":    func() (*Keyring, error) { return NewKeyring("a", key(1)[:16], nil) },
		"bad other id":     func() (*Keyring, error) { return NewKeyring("a", key(1), map[string][]byte{"b c": key(2)}) },
		"long other":       func() (*Keyring, error) { return NewKeyring("a", key(1), map[string][]byte{"b": append(key(2), 0)}) },
		"duplicate of pri": func() (*Keyring, error) { return NewKeyring("a", key(1), map[string][]byte{"a": key(2)}) },
	} {
		if _, err := f(); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestParseKeyring(t *testing.T) {
	raw := key(7)
	forms := map[string]string{
		"std":     base64.StdEncoding.EncodeToString(raw),
		"raw std": base64.RawStdEncoding.EncodeToString(raw),
		"url":     base64.URLEncoding.EncodeToString(raw),
		"raw url": base64.RawURLEncoding.EncodeToString(raw),
	}
	// A key whose encodings differ between the alphabets (+/ against -_).
	special := bytes.Repeat([]byte{0xfb, 0xff, 0xbf}, 11)[:KeySize]
	forms["std +/"] = base64.StdEncoding.EncodeToString(special)
	forms["url -_"] = base64.URLEncoding.EncodeToString(special)
	for name, enc := range forms {
		k, err := ParseKeyring("k_1-A:" + enc)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if k.PrimaryID() != "k_1-A" {
			t.Errorf("%s: PrimaryID %q", name, k.PrimaryID())
		}
	}

	long := strings.Repeat("a", 32)
	if _, err := ParseKeyring(long + ":" + b64(1)); err != nil {
		t.Errorf("32-character id refused: %v", err)
	}

	for _, tc := range []struct {
		name, spec, want string
	}{
		{"empty", "", "empty key spec"},
		{"blank", "  ", "empty key spec"},
		{"empty entry", "a:" + b64(1) + ",", "entry 2 is empty"},
		{"leading comma", ",a:" + b64(1), "entry 1 is empty"},
		{"bare key", b64(1), "entry 1 has no id"},
		{"empty id", ":" + b64(1), "entry 1: key id must be"},
		{"id too long", long + "b:" + b64(1), "entry 1: key id must be"},
		{"id with space", "a b:" + b64(1), "entry 1: key id must be"},
		{"id with dot", "a.b:" + b64(1), "entry 1: key id must be"},
		{"non-ASCII id", "clé:" + b64(1), "entry 1: key id must be"},
		{"duplicate id", "a:" + b64(1) + ",b:" + b64(2) + ",a:" + b64(3), `key "a" (entry 3): duplicate key id`},
		{"empty key", "a:", `key "a" (entry 1) is not valid base64`},
		{"bad base64", "a:not*base64", `key "a" (entry 1) is not valid base64`},
		{"mixed alphabets", "a:" + strings.Replace(forms["std +/"], "/", "_", 1), `key "a" (entry 1) is not valid base64`},
		{"16-byte key", "a:" + base64.StdEncoding.EncodeToString(key(1)[:16]), `key "a" (entry 1) is 16 bytes, want 32`},
		{"33-byte key", "a:" + base64.StdEncoding.EncodeToString(append(key(1), 1)), `is 33 bytes, want 32`},
		{"second entry bad", "a:" + b64(1) + ",b:" + b64(2)[:20], `key "b" (entry 2)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := ParseKeyring(tc.spec)
			if err == nil {
				t.Fatalf("ParseKeyring = %v, want an error", k)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// No error, and no formatting of a keyring, shows key material.
func TestNoKeyMaterialInMessages(t *testing.T) {
	secret := GenerateKey()
	raw, _ := base64.StdEncoding.DecodeString(secret)
	leaks := func(s string) bool {
		for _, frag := range []string{secret, secret[:12], base64.RawURLEncoding.EncodeToString(raw)[:12], string(raw[:8])} {
			if strings.Contains(s, frag) {
				return true
			}
		}
		return false
	}
	for _, spec := range []string{
		secret,                            // no id
		secret + ":" + secret,             // key where the id goes
		"a:" + secret[:40],                // truncated: wrong length
		"a:" + secret + "x",               // bad base64
		"a:" + secret + secret,            // too long
		"a:" + secret + ",a:" + secret,    // duplicate
		"a b:" + secret,                   // bad id
		"a:" + secret + "," + secret[:30], // second entry without id
		"a:" + secret + ",b:" + secret + "==",
	} {
		_, err := ParseKeyring(spec)
		if err == nil {
			t.Errorf("ParseKeyring(%q) succeeded", spec)
			continue
		}
		if leaks(err.Error()) {
			t.Errorf("error %q shows key material", err)
		}
	}

	k := mustParse(t, "live:"+secret)
	for _, s := range []string{
		k.String(), fmt.Sprint(k), fmt.Sprintf("%v %+v %#v %s", k, k, k, k),
	} {
		if leaks(s) || !strings.Contains(s, "live") {
			t.Errorf("formatted keyring %q", s)
		}
	}
	_, err := k.Open("gone", nil, nil)
	if err == nil || leaks(err.Error()) {
		t.Errorf("Open error %v", err)
	}
}

func TestGenerateKey(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 20; i++ {
		s := GenerateKey()
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) != KeySize {
			t.Fatalf("GenerateKey = %q: %d bytes, %v", s, len(b), err)
		}
		if seen[s] {
			t.Fatal("GenerateKey repeated a key")
		}
		seen[s] = true
		if _, err := ParseKeyring("dev:" + s); err != nil {
			t.Fatalf("generated key refused: %v", err)
		}
	}
}

func TestEmptyKeyring(t *testing.T) {
	var nilRing *Keyring
	for name, k := range map[string]*Keyring{"nil": nilRing, "zero": {}} {
		if _, _, err := k.Seal([]byte("x"), nil); err == nil {
			t.Errorf("%s: Seal succeeded", name)
		}
		if _, err := k.Open("a", make([]byte, 40), nil); !errors.Is(err, ErrUnknownKey) {
			t.Errorf("%s: Open: %v", name, err)
		}
		if k.PrimaryID() != "" || !k.NeedsReseal("a") {
			t.Errorf("%s: PrimaryID %q", name, k.PrimaryID())
		}
	}
}
