package secrets_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/secrets"
)

func TestIsSecretDefaultPatterns(t *testing.T) {
	c := secrets.NewClassifier(nil, nil)
	cases := []struct {
		name string
		want bool
	}{
		{"SECRET_KEY_BASE", true},
		{"API_TOKEN", true},
		{"DB_PASSWORD", true},
		{"AWS_ACCESS_KEY_ID", true},
		{"GOOGLE_CREDENTIALS", true},
		{"SENTRY_DSN", true},
		{"DATABASE_URL", true},
		{"MY_DATABASE_URL_RO", true},
		// Case-insensitive.
		{"secret", true},
		{"api_token", true},
		{"Db_Password", true},
		{"sentry_dsn", true},
		{"database_url", true},
		// Substring match.
		{"MONKEY", true},
		{"XTOKENX", true},
		// Not secret.
		{"PORT", false},
		{"RAILS_ENV", false},
		{"REDIS_URL", false},
		{"DATABASE", false},
		{"LOG_LEVEL", false},
		{"", false},
	}
	for _, tc := range cases {
		if got := c.IsSecret(tc.name); got != tc.want {
			t.Errorf("IsSecret(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestIsSecretDefaultListUnchanged(t *testing.T) {
	want := []string{"SECRET", "TOKEN", "PASSWORD", "KEY", "CREDENTIAL", "DSN", "DATABASE_URL"}
	if !reflect.DeepEqual(secrets.DefaultPatterns(), want) {
		t.Fatalf("DefaultPatterns = %v, want %v", secrets.DefaultPatterns(), want)
	}
}

func TestIsSecretExtraPatterns(t *testing.T) {
	// Extra patterns are trimmed and matched case-insensitively; blank ones
	// are ignored (a blank pattern would otherwise mark everything secret).
	c := secrets.NewClassifier([]string{" salt ", "redis_url", "", "   "}, nil)
	cases := []struct {
		name string
		want bool
	}{
		{"PASSWORD_SALT", true},
		{"salt", true},
		{"REDIS_URL", true},
		{"redis_url", true},
		{"API_TOKEN", true}, // defaults still apply
		{"PORT", false},
		{"HOSTNAME", false},
	}
	for _, tc := range cases {
		if got := c.IsSecret(tc.name); got != tc.want {
			t.Errorf("IsSecret(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	// The extra patterns must not leak into another classifier or into the
	// package defaults.
	plain := secrets.NewClassifier(nil, nil)
	if plain.IsSecret("PASSWORD_SALT_X") != true || plain.IsSecret("SALT") || plain.IsSecret("REDIS_URL") {
		t.Errorf("extra patterns leaked into a new classifier")
	}
	if len(secrets.DefaultPatterns()) != 7 {
		t.Errorf("DefaultPatterns modified: %v", secrets.DefaultPatterns())
	}
}

func TestIsProtected(t *testing.T) {
	c := secrets.NewClassifier(nil, []string{"RAILS_MASTER_KEY", " STRIPE_LIVE ", ""})
	cases := []struct {
		name string
		want bool
	}{
		{"RAILS_MASTER_KEY", true},
		{"STRIPE_LIVE", true}, // configured with spaces, trimmed
		{"rails_master_key", false},
		{"RAILS_MASTER", false},
		{"PORT", false},
	}
	for _, tc := range cases {
		if got := c.IsProtected(tc.name); got != tc.want {
			t.Errorf("IsProtected(%q) = %v, want %v", tc.name, got, tc.want)
		}
	}
	if secrets.NewClassifier(nil, nil).IsProtected("RAILS_MASTER_KEY") {
		t.Error("no protected keys configured, yet RAILS_MASTER_KEY is protected")
	}
}

func TestParseEnv(t *testing.T) {
	cases := []struct {
		name   string
		in     string
		keys   []string
		values map[string]string
		out    string // String() of the parsed env
	}{
		{
			name:   "empty",
			in:     "",
			keys:   nil,
			values: map[string]string{},
			out:    "",
		},
		{
			name:   "order kept",
			in:     "Z=1\nA=2\nM=3",
			keys:   []string{"Z", "A", "M"},
			values: map[string]string{"Z": "1", "A": "2", "M": "3"},
			out:    "Z=1\nA=2\nM=3",
		},
		{
			name:   "split at first equals",
			in:     "URL=postgres://u:p@h/db?a=b&c=d\nEMPTY=\nEQ==x=",
			keys:   []string{"URL", "EMPTY", "EQ"},
			values: map[string]string{"URL": "postgres://u:p@h/db?a=b&c=d", "EMPTY": "", "EQ": "=x="},
			out:    "URL=postgres://u:p@h/db?a=b&c=d\nEMPTY=\nEQ==x=",
		},
		{
			name:   "blank lines and lines without equals ignored",
			in:     "\n\nA=1\n\n# comment\nnoequals\n=nokey\nB=2\n\n",
			keys:   []string{"A", "B"},
			values: map[string]string{"A": "1", "B": "2"},
			out:    "A=1\nB=2",
		},
		{
			name:   "CRLF",
			in:     "A=1\r\nB=two words\r\n\r\nC=3\r\n",
			keys:   []string{"A", "B", "C"},
			values: map[string]string{"A": "1", "B": "two words", "C": "3"},
			out:    "A=1\nB=two words\nC=3",
		},
		{
			name:   "key trimmed, value kept verbatim",
			in:     "  A =  spaced value  ",
			keys:   []string{"A"},
			values: map[string]string{"A": "  spaced value  "},
			out:    "A=  spaced value  ",
		},
		{
			name:   "duplicate key: first position, last value",
			in:     "A=1\nB=2\nA=3",
			keys:   []string{"A", "B"},
			values: map[string]string{"A": "3", "B": "2"},
			out:    "A=3\nB=2",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := secrets.ParseEnv(tc.in)
			if !reflect.DeepEqual(e.Keys, tc.keys) {
				t.Errorf("Keys = %q, want %q", e.Keys, tc.keys)
			}
			if !reflect.DeepEqual(e.Values, tc.values) {
				t.Errorf("Values = %q, want %q", e.Values, tc.values)
			}
			if got := e.String(); got != tc.out {
				t.Errorf("String() = %q, want %q", got, tc.out)
			}
			// A canonical document round-trips exactly.
			again := secrets.ParseEnv(e.String())
			if !reflect.DeepEqual(again.Keys, e.Keys) || !reflect.DeepEqual(again.Values, e.Values) {
				t.Errorf("round trip changed the env: %+v -> %+v", e, again)
			}
			if again.String() != e.String() {
				t.Errorf("round trip String() %q != %q", again.String(), e.String())
			}
		})
	}
}

func TestMaskEnv(t *testing.T) {
	c := secrets.NewClassifier([]string{"SALT"}, nil)
	cases := []struct {
		in, want string
	}{
		{"", ""},
		{"PORT=3000", "PORT=3000"},
		{
			"DATABASE_URL=postgres://u:secretpw@db/x\nSECRET_KEY_BASE=9f86d0\nPORT=3000",
			"DATABASE_URL=********\nSECRET_KEY_BASE=********\nPORT=3000",
		},
		{"api_token=abc\nsalt=xyz\nHOST=h", "api_token=********\nsalt=********\nHOST=h"},
		// Empty secret values stay empty so the caller can tell "unset".
		{"API_TOKEN=\nPORT=1", "API_TOKEN=\nPORT=1"},
		// CRLF and values with '='.
		{"PASSWORD=a=b=c\r\nX=y=z\r\n", "PASSWORD=********\nX=y=z"},
	}
	for _, tc := range cases {
		got := c.MaskEnv(tc.in)
		if got != tc.want {
			t.Errorf("MaskEnv(%q) = %q, want %q", tc.in, got, tc.want)
		}
		for _, leaked := range []string{"secretpw", "9f86d0", "abc", "xyz", "a=b=c"} {
			if strings.Contains(tc.in, leaked) && strings.Contains(got, leaked) {
				t.Errorf("MaskEnv(%q) leaks %q: %q", tc.in, leaked, got)
			}
		}
	}
}

func TestDiff(t *testing.T) {
	cases := []struct {
		name                    string
		old, new                string
		added, changed, removed []string
		keys                    []string
		empty                   bool
	}{
		{name: "identical", old: "A=1\nB=2", new: "A=1\nB=2", empty: true},
		{name: "reordered only", old: "A=1\nB=2", new: "B=2\nA=1", empty: true},
		{name: "both empty", old: "", new: "", empty: true},
		{
			name: "added changed removed, sorted",
			old:  "Z=1\nC=1\nKEEP=k\nY=1\nB=1",
			new:  "KEEP=k\nY=2\nC=2\nX=new\nA=new",
			// old keys not in new: Z, B; changed: C, Y; added: X, A
			added: []string{"A", "X"}, changed: []string{"C", "Y"}, removed: []string{"B", "Z"},
			keys: []string{"A", "B", "C", "X", "Y", "Z"},
		},
		{
			name: "empty value counts as present",
			old:  "A=",
			new:  "A=\nB=",
			// A unchanged (empty to empty); B added.
			added: []string{"B"}, keys: []string{"B"},
		},
		{
			name: "value emptied is a change",
			old:  "A=x", new: "A=",
			changed: []string{"A"}, keys: []string{"A"},
		},
		{
			name: "everything removed",
			old:  "B=1\nA=2", new: "",
			removed: []string{"A", "B"}, keys: []string{"A", "B"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ch := secrets.Diff(secrets.ParseEnv(tc.old), secrets.ParseEnv(tc.new))
			if !reflect.DeepEqual(ch.Added, tc.added) {
				t.Errorf("Added = %q, want %q", ch.Added, tc.added)
			}
			if !reflect.DeepEqual(ch.Changed, tc.changed) {
				t.Errorf("Changed = %q, want %q", ch.Changed, tc.changed)
			}
			if !reflect.DeepEqual(ch.Removed, tc.removed) {
				t.Errorf("Removed = %q, want %q", ch.Removed, tc.removed)
			}
			if ch.Empty() != tc.empty {
				t.Errorf("Empty() = %v, want %v", ch.Empty(), tc.empty)
			}
			keys := ch.Keys()
			if len(tc.keys) == 0 {
				if len(keys) != 0 {
					t.Errorf("Keys() = %q, want none", keys)
				}
			} else if !reflect.DeepEqual(keys, tc.keys) {
				t.Errorf("Keys() = %q, want %q", keys, tc.keys)
			}
		})
	}
}

func TestDiffNeverHoldsValues(t *testing.T) {
	ch := secrets.Diff(secrets.ParseEnv("PASSWORD=old-secret"), secrets.ParseEnv("PASSWORD=new-secret\nTOKEN=tok-secret"))
	for _, k := range ch.Keys() {
		if strings.Contains(k, "secret") {
			t.Errorf("change holds a value: %q", k)
		}
	}
}

func TestMaskURL(t *testing.T) {
	cases := []struct {
		in, want string
		secret   string // must not appear in the output ("" = nothing to hide)
	}{
		{"postgres://app:s3cretpw@db.internal:5432/app", "postgres://app:********@db.internal:5432/app", "s3cretpw"},
		{"postgresql://app:s3cretpw@db/app?sslmode=require", "postgresql://app:********@db/app?sslmode=require", "s3cretpw"},
		{"redis://:r3dispw@cache:6379", "redis://:********@cache:6379", "r3dispw"},
		{"rediss://default:r3dispw@cache:6380/0", "rediss://default:********@cache:6380/0", "r3dispw"},
		{"mysql://root:my%40pw@db:3306/x", "mysql://root:********@db:3306/x", "my%40pw"},
		{"amqp://u:p@ss@mq:5672/", "amqp://u:********@mq:5672/", "p@ss"},
		// No password: unchanged.
		{"postgres://app@db:5432/app", "postgres://app@db:5432/app", ""},
		{"redis://cache:6379", "redis://cache:6379", ""},
		{"https://example.com/path?x=1", "https://example.com/path?x=1", ""},
		// Not URLs: unchanged.
		{"", "", ""},
		{"plain value", "plain value", ""},
		{"3000", "3000", ""},
		{"user:pass", "user:pass", ""},
	}
	for _, tc := range cases {
		got := secrets.MaskURL(tc.in)
		if got != tc.want {
			t.Errorf("MaskURL(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if tc.secret != "" && strings.Contains(got, tc.secret) {
			t.Errorf("MaskURL(%q) leaks the password: %q", tc.in, got)
		}
		if tc.secret != "" && !strings.Contains(got, secrets.Mask) {
			t.Errorf("MaskURL(%q) = %q, want the plain mask %q", tc.in, got, secrets.Mask)
		}
	}
}

// TestMaskURLUnparseablePasswordLeaks: a credential URL whose password holds
// a character url.Parse rejects is returned unchanged, password included.
func TestMaskURLUnparseablePasswordLeaks(t *testing.T) {
	for _, tc := range []struct{ in, secret string }{
		{"postgres://u:p%zz@db/x", "p%zz"},
		{"postgres://u:p ss@db/x", "p ss"},
		{"postgres://u:p^x@db/x", "p^x"},
		{"postgres://u:pa#ss@db/x", "pa#ss"},
		{"redis://:pa/ss@cache:6379", "pa/ss"},
	} {
		if got := secrets.MaskURL(tc.in); strings.Contains(got, tc.secret) {
			t.Errorf("MaskURL(%q) = %q leaks %q", tc.in, got, tc.secret)
		}
	}
}
