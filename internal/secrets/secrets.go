// Package secrets decides which values are secret and masks them: env vars by
// name, credentials inside URLs, and dotenv documents as the rack stores a
// release's env.
package secrets

import (
	"net/url"
	"sort"
	"strings"
)

// Mask replaces a secret value shown to a caller without secret:read. A
// masked value sent back unchanged keeps the old value.
const Mask = "********"

// DefaultPatterns returns the patterns that mark env var names as secret
// (case-insensitive substring); the slice is a copy.
func DefaultPatterns() []string {
	return []string{"SECRET", "TOKEN", "PASSWORD", "KEY", "CREDENTIAL", "DSN", "DATABASE_URL"}
}

// Classifier decides which env var names are secret and which are protected.
type Classifier struct {
	patterns  []string
	protected map[string]bool
}

// NewClassifier combines the default patterns with extra ones and a list of
// protected keys.
func NewClassifier(extraPatterns, protectedKeys []string) *Classifier {
	c := &Classifier{protected: map[string]bool{}}
	for _, p := range append(DefaultPatterns(), extraPatterns...) {
		if p = strings.ToUpper(strings.TrimSpace(p)); p != "" {
			c.patterns = append(c.patterns, p)
		}
	}
	for _, k := range protectedKeys {
		c.protected[strings.TrimSpace(k)] = true
	}
	return c
}

// IsSecret reports whether the env var name holds a secret.
func (c *Classifier) IsSecret(name string) bool {
	up := strings.ToUpper(name)
	for _, p := range c.patterns {
		if strings.Contains(up, p) {
			return true
		}
	}
	return false
}

// IsProtected reports whether the key may be changed only with env:protected.
func (c *Classifier) IsProtected(name string) bool { return c.protected[name] }

// Env is a parsed dotenv document, keeping key order.
type Env struct {
	Keys   []string
	Values map[string]string
}

// ParseEnv parses the rack's env format: one KEY=VALUE per line, split at the
// first '='. Blank lines and lines without '=' are ignored, as the rack does.
func ParseEnv(s string) Env {
	e := Env{Values: map[string]string{}}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		k, v, ok := strings.Cut(line, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if _, dup := e.Values[k]; !dup {
			e.Keys = append(e.Keys, k)
		}
		e.Values[k] = v
	}
	return e
}

// String encodes the env in the rack's format.
func (e Env) String() string {
	var b strings.Builder
	for i, k := range e.Keys {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(e.Values[k])
	}
	return b.String()
}

// MaskEnv masks the values of secret keys in a dotenv document.
func (c *Classifier) MaskEnv(s string) string {
	e := ParseEnv(s)
	for _, k := range e.Keys {
		if c.IsSecret(k) && e.Values[k] != "" {
			e.Values[k] = Mask
		}
	}
	return e.String()
}

// Change describes how a release env differs from the one before it, by key
// name only (never values).
type Change struct {
	Added, Changed, Removed []string
}

// Keys lists every key the change touches.
func (c Change) Keys() []string {
	out := append(append(append([]string{}, c.Added...), c.Changed...), c.Removed...)
	sort.Strings(out)
	return out
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool { return len(c.Added)+len(c.Changed)+len(c.Removed) == 0 }

// Diff compares two envs by key.
func Diff(old, new Env) Change {
	var ch Change
	for _, k := range new.Keys {
		ov, had := old.Values[k]
		switch {
		case !had:
			ch.Added = append(ch.Added, k)
		case ov != new.Values[k]:
			ch.Changed = append(ch.Changed, k)
		}
	}
	for _, k := range old.Keys {
		if _, ok := new.Values[k]; !ok {
			ch.Removed = append(ch.Removed, k)
		}
	}
	sort.Strings(ch.Added)
	sort.Strings(ch.Changed)
	sort.Strings(ch.Removed)
	return ch
}

func hasPassword(u *url.Userinfo) bool { _, has := u.Password(); return has }

// MaskURL hides the password in a URL such as postgres://user:pass@host/db.
// Strings that are not URLs with credentials are returned unchanged.
//
// URL parsers disagree about passwords with a raw '#', '?', '/' or '@' in
// them ("user:pa#ss@host"): where the parsed password may not be all a
// client of the URL would read, everything between the scheme and the last
// '@' is hidden instead (over-masking a path or query that holds ':' and
// '@' is the safe mistake).
func MaskURL(s string) string {
	scheme, rest, ok := strings.Cut(s, "://")
	lastAt := strings.LastIndexByte(rest, '@')
	if !ok || lastAt < 0 {
		return s
	}
	auth := rest
	if end := strings.IndexAny(rest, "/?#"); end >= 0 {
		auth = rest[:end]
	}
	u, err := url.Parse(s)
	if err == nil && u.User != nil && hasPassword(u.User) && strings.LastIndexByte(auth, '@') == lastAt {
		u.User = url.UserPassword(u.User.Username(), Mask)
		out := u.String()
		// url.String escapes the mask's asterisks; show them plainly.
		return strings.Replace(out, url.QueryEscape(Mask), Mask, 1)
	}
	if err != nil || strings.IndexByte(rest[:lastAt], ':') >= 0 {
		return scheme + "://" + Mask + rest[lastAt:]
	}
	return s
}
