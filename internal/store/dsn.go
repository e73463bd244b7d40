package store

import (
	"net/url"
	"regexp"
	"strings"
)

// redactedPassword replaces every password RedactDSN finds.
const redactedPassword = "xxxxx"

// kvPassword matches password settings in keyword/value connection strings
// ("host=db password=secret", "password='s e c'").
var kvPassword = regexp.MustCompile(`(?i)\b((?:ssl)?password)\s*=\s*('(?:[^'\\]|\\.)*'?|\S*)`)

// RedactDSN returns dsn with any password masked, for use in logs and error
// messages. It handles URL DSNs (the userinfo password and password or
// sslpassword query parameters) and keyword/value DSNs (password=...). It
// is deliberately conservative: when a URL is malformed in a way that makes
// the password's extent ambiguous, it masks more than strictly necessary
// rather than risk printing part of a secret.
func RedactDSN(dsn string) string {
	scheme, rest, ok := strings.Cut(dsn, "://")
	if !ok || !IsScheme(scheme) {
		return kvPassword.ReplaceAllString(dsn, "${1}="+redactedPassword)
	}

	var b strings.Builder
	b.WriteString(scheme)
	b.WriteString("://")

	// The userinfo ends at an '@'. For a URL that parses and carries no
	// other '@' the first one is exact. Otherwise a password may contain
	// unescaped delimiters, so take the last '@' and mask everything
	// between the first ':' and it.
	at := -1
	if u, err := url.Parse(dsn); err == nil && strings.Count(rest, "@") == 1 && u.User != nil {
		at = strings.IndexByte(rest, '@')
	} else if err != nil || strings.Contains(rest, "@") {
		at = strings.LastIndexByte(rest, '@')
	}
	if at >= 0 {
		user, _, hasPassword := strings.Cut(rest[:at], ":")
		b.WriteString(user)
		if hasPassword {
			b.WriteString(":" + redactedPassword)
		}
		b.WriteByte('@')
		rest = rest[at+1:]
	}

	hostPath, query, hasQuery := strings.Cut(rest, "?")
	b.WriteString(hostPath)
	if !hasQuery {
		return b.String()
	}
	b.WriteByte('?')
	for i, pair := range strings.Split(query, "&") {
		if i > 0 {
			b.WriteByte('&')
		}
		rawKey, _, hasValue := strings.Cut(pair, "=")
		key, err := url.QueryUnescape(rawKey)
		if err != nil {
			key = rawKey
		}
		switch strings.ToLower(key) {
		case "password", "sslpassword":
			if hasValue {
				b.WriteString(rawKey + "=" + redactedPassword)
				continue
			}
		}
		b.WriteString(pair)
	}
	return b.String()
}

// IsScheme reports whether s is a syntactically valid URL scheme
// (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )).
func IsScheme(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}
