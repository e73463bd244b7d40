package secrets_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/secrets"
)

// A secret's value never survives masking, whatever else the env holds,
// and masking keeps every key.
func FuzzMaskEnvHidesSecrets(f *testing.F) {
	f.Add("PORT=1\nMODE=x", "s3cr3t-value-1")
	f.Add("A=\nB==\n=C\n\n#x", "hunter2hunter2")
	f.Add("K\x00=v\xff", "p\nq=r")
	c := secrets.NewClassifier(nil, nil)
	f.Fuzz(func(t *testing.T, other, value string) {
		if len(value) < 8 || strings.ContainsAny(value, "\n") || strings.Contains(other, value) ||
			strings.Contains(secrets.Mask+"\n"+secrets.Mask, value) {
			return // short values may occur by chance in the rest of the document
		}
		env := other + "\nAPI_TOKEN=" + value + "\nDB_PASSWORD=" + value
		out := c.MaskEnv(env)
		masked := 0
		for _, line := range strings.Split(out, "\n") {
			k, v, _ := strings.Cut(line, "=")
			if k == "API_TOKEN" || k == "DB_PASSWORD" {
				masked++
				if v != secrets.Mask {
					t.Fatalf("a secret value survived masking: %q -> %q", env, out)
				}
			}
		}
		if masked < 2 {
			t.Fatalf("masking dropped a secret key: %q -> %q", env, out)
		}
	})
}

// Credentials in a URL never survive MaskURL.
func FuzzMaskURLHidesPassword(f *testing.F) {
	f.Add("postgres", "db.internal:5432/app", "s3cr3t-password")
	f.Add("redis", "h", "p@ss:w/rd?#")
	schemeRE := regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*$`)
	f.Fuzz(func(t *testing.T, scheme, rest, password string) {
		if !schemeRE.MatchString(scheme) {
			return // not a URL
		}
		// The password must be told apart from the rest of the output,
		// which may come back lower-cased, escaped or unescaped.
		if len(password) < 8 {
			return
		}
		for _, r := range []string{rest, url.PathEscape(rest), url.QueryEscape(rest), strings.ToLower(scheme + "://user:@" + rest)} {
			if strings.Contains(strings.ToLower(r), strings.ToLower(password)) {
				return
			}
		}
		if un, err := url.PathUnescape(rest); err == nil && strings.Contains(un, password) {
			return
		}
		u := scheme + "://user:" + password + "@" + rest
		out := secrets.MaskURL(u)
		if strings.Contains(out, password) {
			t.Fatalf("a URL password survived masking: %q -> %q", u, out)
		}
	})
}
