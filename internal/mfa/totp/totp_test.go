package totp

import (
	"bytes"
	"encoding/base32"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"
)

// rfcSecret is the SHA1 seed of RFC 6238 appendix B, "12345678901234567890"
// in ASCII, as base32.
var rfcSecret = base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString([]byte("12345678901234567890"))

// rfcVectors are RFC 6238 appendix B's SHA1 rows: unix time, 8-digit TOTP.
var rfcVectors = []struct {
	unix  int64
	step  int64
	code8 string
}{
	{59, 0x1, "94287082"},
	{1111111109, 0x23523EC, "07081804"},
	{1111111111, 0x23523ED, "14050471"},
	{1234567890, 0x273EF07, "89005924"},
	{2000000000, 0x3F940AA, "69279037"},
	{20000000000, 0x27BC86AA, "65353130"},
}

func TestRFC6238Vectors(t *testing.T) {
	for _, v := range rfcVectors {
		now := time.Unix(v.unix, 0).UTC()
		// The 8-digit values themselves, through the same library.
		got8, err := pqtotp.GenerateCodeCustom(rfcSecret, now, pqtotp.ValidateOpts{
			Period: Period, Digits: otp.DigitsEight, Algorithm: otp.AlgorithmSHA1,
		})
		if err != nil || got8 != v.code8 {
			t.Errorf("t=%d: 8-digit code %q, %v; want %q", v.unix, got8, err, v.code8)
		}
		// The 6-digit code is the same value mod 10⁶: the last 6 digits.
		want6 := v.code8[2:]
		got6, err := Code(rfcSecret, now)
		if err != nil || got6 != want6 {
			t.Errorf("t=%d: Code = %q, %v; want %q", v.unix, got6, err, want6)
		}
		if s := Step(now); s != v.step {
			t.Errorf("t=%d: Step = %#x, want %#x", v.unix, s, v.step)
		}
		step, ok := Validate(rfcSecret, want6, now)
		if !ok || step != v.step {
			t.Errorf("t=%d: Validate(%q) = %d, %v; want %d, true", v.unix, want6, step, ok, v.step)
		}
	}
}

func TestStep(t *testing.T) {
	for _, tc := range []struct {
		unix int64
		want int64
	}{
		{0, 0}, {29, 0}, {30, 1}, {59, 1}, {60, 2},
		{-1, -1}, {-30, -1}, {-31, -2},
	} {
		if got := Step(time.Unix(tc.unix, 999_999_999)); got != tc.want {
			t.Errorf("Step(%d) = %d, want %d", tc.unix, got, tc.want)
		}
	}
}

func TestValidateSkew(t *testing.T) {
	now := time.Unix(1234567890, 0) // step 0x273EF07, 0 s into the step
	cur := Step(now)
	for _, tc := range []struct {
		name   string
		offset time.Duration // when the code was generated, relative to now
		ok     bool
	}{
		{"-2 steps", -2 * Period * time.Second, false},
		{"-1 step", -1 * Period * time.Second, true},
		{"same step", 0, true},
		{"same step, end", 29 * time.Second, true},
		{"+1 step", Period * time.Second, true},
		{"+2 steps", 2 * Period * time.Second, false},
		{"+3 steps", 3 * Period * time.Second, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := now.Add(tc.offset)
			c, err := Code(rfcSecret, at)
			if err != nil {
				t.Fatal(err)
			}
			step, ok := Validate(rfcSecret, c, now)
			if ok != tc.ok {
				t.Fatalf("Validate(code at %v) ok = %v, want %v", tc.offset, ok, tc.ok)
			}
			if ok && step != Step(at) {
				t.Errorf("step = %d, want %d (now is %d)", step, Step(at), cur)
			}
			if !ok && step != 0 {
				t.Errorf("step = %d on failure, want 0", step)
			}
		})
	}
}

func TestValidateInputs(t *testing.T) {
	now := time.Unix(59, 0)
	const good = "287082" // RFC vector at t=59
	for _, tc := range []struct {
		name, secret, code string
		ok                 bool
	}{
		{"good", rfcSecret, good, true},
		{"surrounding spaces", rfcSecret, "  " + good + " ", true},
		{"surrounding tab and newline", rfcSecret, "\t" + good + "\n", true},
		{"lower-case secret", strings.ToLower(rfcSecret), good, true},
		{"padded secret", rfcSecret + "====", good, true},
		{"wrong code", rfcSecret, "287083", false},
		{"empty", rfcSecret, "", false},
		{"spaces only", rfcSecret, "      ", false},
		{"5 digits", rfcSecret, "12345", false},
		{"5 digits of the code", rfcSecret, good[:5], false},
		{"7 digits", rfcSecret, "1234567", false},
		{"code plus digit", rfcSecret, good + "0", false},
		{"8-digit code", rfcSecret, "94287082", false},
		{"letter", rfcSecret, "12a456", false},
		{"inner space", rfcSecret, "287 082", false},
		{"inner space 2", rfcSecret, "123 456", false},
		{"dash", rfcSecret, "287-082", false},
		{"full-width digits", rfcSecret, "２８７０８２", false},
		{"Arabic-Indic digits", rfcSecret, "٢٨٧٠٨٢", false},
		{"sign", rfcSecret, "+28708", false},
		{"NUL", rfcSecret, "28708\x00", false},
		{"empty secret", "", good, false},
		{"short secret", "GEZDGNBVGY3TQOJQ", good, false}, // 80 bits
		{"bad base32", "!!!!" + rfcSecret[4:], good, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			step, ok := Validate(tc.secret, tc.code, now)
			if ok != tc.ok {
				t.Fatalf("Validate(%q, %q) ok = %v, want %v", tc.secret, tc.code, ok, tc.ok)
			}
			if ok && step != 1 {
				t.Errorf("step = %d, want 1", step)
			}
		})
	}
}

func TestCodeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, secret string
		at           time.Time
	}{
		{"empty secret", "", time.Unix(59, 0)},
		{"bad base32", "not base32!", time.Unix(59, 0)},
		{"short secret", "GEZDGNBVGY3TQOJQ", time.Unix(59, 0)},
		{"before 1970", rfcSecret, time.Unix(-1, 0)},
	} {
		if c, err := Code(tc.secret, tc.at); err == nil {
			t.Errorf("%s: Code = %q, want an error", tc.name, c)
		}
	}
}

func TestGenerate(t *testing.T) {
	k, err := Generate("Rack Gateway", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(k.Secret)
	if err != nil || len(raw) != SecretSize {
		t.Fatalf("Secret %q: %d bytes, %v; want %d bytes of unpadded base32", k.Secret, len(raw), err, SecretSize)
	}
	if strings.Contains(k.Secret, "=") {
		t.Errorf("Secret %q is padded", k.Secret)
	}

	u, err := url.Parse(k.URL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Scheme != "otpauth" || u.Host != "totp" {
		t.Errorf("URL %q: want otpauth://totp/", k.URL)
	}
	if want := "/Rack Gateway:alice@example.com"; u.Path != want {
		t.Errorf("URL path %q, want %q", u.Path, want)
	}
	q := u.Query()
	for name, want := range map[string]string{
		"secret":    k.Secret,
		"issuer":    "Rack Gateway",
		"algorithm": "SHA1",
		"digits":    "6",
		"period":    "30",
	} {
		if got := q.Get(name); got != want {
			t.Errorf("URL parameter %s = %q, want %q", name, got, want)
		}
	}

	// The key's own codes validate.
	now := time.Unix(1_700_000_000, 0)
	c, err := Code(k.Secret, now)
	if err != nil {
		t.Fatal(err)
	}
	if step, ok := Validate(k.Secret, c, now); !ok || step != Step(now) {
		t.Errorf("Validate(own code) = %d, %v", step, ok)
	}

	// NewKey rebuilds the same key from the secret.
	k2, err := NewKey("Rack Gateway", "alice@example.com", k.Secret)
	if err != nil || *k2 != *k {
		t.Errorf("NewKey = %+v, %v; want %+v", k2, err, k)
	}
}

func TestGenerateDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 50; i++ {
		k, err := Generate("Rack Gateway", "alice")
		if err != nil {
			t.Fatal(err)
		}
		if seen[k.Secret] {
			t.Fatalf("secret %q generated twice", k.Secret)
		}
		seen[k.Secret] = true
	}
}

func TestGenerateRefuses(t *testing.T) {
	for _, tc := range []struct{ issuer, account string }{
		{"", "alice"},
		{"Rack Gateway", ""},
		{"Rack:Gateway", "alice"},
		{"Rack Gateway", "alice:admin"},
	} {
		if k, err := Generate(tc.issuer, tc.account); err == nil {
			t.Errorf("Generate(%q, %q) = %+v, want an error", tc.issuer, tc.account, k)
		}
	}
	if _, err := NewKey("Rack Gateway", "alice", "GEZDGNBVGY3TQOJQ"); err == nil {
		t.Error("NewKey accepted an 80-bit secret")
	}
}

func TestPNG(t *testing.T) {
	k, err := Generate("Rack Gateway", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	for _, size := range []int{200, 256, 333} {
		b, err := k.PNG(size)
		if err != nil {
			t.Fatalf("PNG(%d): %v", size, err)
		}
		if !bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) {
			t.Fatalf("PNG(%d) lacks the PNG signature", size)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("PNG(%d) does not decode: %v", size, err)
		}
		if r := img.Bounds(); r.Dx() != size || r.Dy() != size {
			t.Errorf("PNG(%d) is %dx%d", size, r.Dx(), r.Dy())
		}
	}
	for _, size := range []int{-1, 0, 10, maxPNGSize + 1} {
		if _, err := k.PNG(size); err == nil {
			t.Errorf("PNG(%d) succeeded, want an error", size)
		}
	}
}
