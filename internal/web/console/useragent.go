package console

import (
	"strings"
)

// clientName describes a User-Agent header as a person reads it: "Chrome
// 131 on macOS", "Firefox 133 on Linux", "rack-gateway CLI 1.2 on
// linux/amd64", "curl 8.5"; "" when it names nothing recognisable (the
// page then shows "unknown", and the raw string in a title attribute).
//
// User-Agent strings are written by whoever sends them: everything
// returned is either a fixed name from the tables below, digits, or a
// name restricted to [A-Za-z0-9._-] (and html/template escapes it again).
func clientName(ua string) string {
	ua = strings.TrimSpace(ua)
	if len(ua) > 512 { // stored truncated to 256; never scan more
		ua = ua[:512]
	}
	if ua == "" {
		return ""
	}
	toks := uaTokens(ua)
	if s := cliName(toks); s != "" {
		return s
	}
	if b := browserName(toks); b != "" {
		if os := osName(toks); os != "" {
			return b + " on " + os
		}
		return b
	}
	return toolName(toks)
}

// uaToken is one product ("Chrome/131.0", name and version) or comment
// ("(X11; Linux x86_64)", without its parentheses) of a User-Agent.
type uaToken struct {
	name, version string
	comment       bool
}

// uaTokens splits a User-Agent into products and comments (RFC 9110
// §10.1.5), forgivingly: unbalanced parentheses end at the end.
func uaTokens(ua string) []uaToken {
	var out []uaToken
	for i := 0; i < len(ua); {
		switch ua[i] {
		case ' ', '\t':
			i++
		case '(':
			depth, j := 0, i
			for ; j < len(ua); j++ {
				if ua[j] == '(' {
					depth++
				} else if ua[j] == ')' {
					if depth--; depth == 0 {
						break
					}
				}
			}
			end := min(j, len(ua))
			out = append(out, uaToken{name: ua[i+1 : end], comment: true})
			i = end + 1
		default:
			j := i
			for j < len(ua) && ua[j] != ' ' && ua[j] != '\t' && ua[j] != '(' {
				j++
			}
			name, version, _ := strings.Cut(ua[i:j], "/")
			out = append(out, uaToken{name: name, version: version})
			i = j
		}
	}
	return out
}

// product returns the version of the first product named name, and
// whether there is one.
func product(toks []uaToken, name string) (string, bool) {
	for _, t := range toks {
		if !t.comment && t.name == name {
			return t.version, true
		}
	}
	return "", false
}

// versionPrefix is the first n numeric components of v ("131.0.6778.85",
// 1 → "131"; "v1.2.3", 2 → "1.2"); "" if v does not start with a number.
func versionPrefix(v string, n int) string {
	v = strings.TrimPrefix(v, "v")
	var parts []string
	for p := range strings.SplitSeq(v, ".") {
		if len(parts) == n {
			break
		}
		digits := 0
		for digits < len(p) && digits < 8 && p[digits] >= '0' && p[digits] <= '9' {
			digits++
		}
		if digits == 0 {
			break
		}
		parts = append(parts, p[:digits])
		if digits < len(p) { // "0-rc1", "1_2": stop at the first non-digit
			break
		}
	}
	return strings.Join(parts, ".")
}

func withVersion(name, version string) string {
	if version == "" {
		return name
	}
	return name + " " + version
}

// browsers, most specific first: Edge, Opera, Samsung Internet and
// others also send "Chrome/…" and "Safari/…", Chrome sends "Safari/…".
var browsers = []struct{ product, name string }{
	{"EdgiOS", "Edge"}, {"EdgA", "Edge"}, {"Edg", "Edge"}, {"Edge", "Edge"},
	{"OPR", "Opera"}, {"OPiOS", "Opera"}, {"OPT", "Opera"},
	{"SamsungBrowser", "Samsung Internet"}, {"Vivaldi", "Vivaldi"}, {"YaBrowser", "Yandex Browser"},
	{"FxiOS", "Firefox"}, {"CriOS", "Chrome"}, {"HeadlessChrome", "Headless Chrome"},
	{"Firefox", "Firefox"}, {"Chromium", "Chromium"}, {"Chrome", "Chrome"},
}

// browserName is a web browser and its major version, "" if the agent is
// not a browser this knows.
func browserName(toks []uaToken) string {
	if len(toks) == 0 || toks[0].comment || toks[0].name != "Mozilla" {
		return ""
	}
	for _, b := range browsers {
		if v, ok := product(toks, b.product); ok {
			return withVersion(b.name, versionPrefix(v, 1))
		}
	}
	if _, ok := product(toks, "Safari"); ok {
		v, _ := product(toks, "Version") // Safari's own version; "Safari/…" is WebKit's
		return withVersion("Safari", versionPrefix(v, 1))
	}
	return ""
}

// systems map words of a browser's platform comment to its operating
// system, most specific first: iOS says "like Mac OS X", Android and
// ChromeOS say "Linux" or "X11".
var systems = []struct{ word, name string }{
	{"iPhone", "iOS"}, {"iPod", "iOS"}, {"iPad", "iPadOS"},
	{"Android", "Android"}, {"CrOS", "ChromeOS"},
	{"Windows", "Windows"}, {"Macintosh", "macOS"}, {"Mac OS X", "macOS"},
	{"FreeBSD", "FreeBSD"}, {"OpenBSD", "OpenBSD"}, {"NetBSD", "NetBSD"},
	{"Linux", "Linux"}, {"X11", "Linux"},
}

// osName is the operating system named in the agent's first comment (the
// browser's platform), "" if none is recognised.
func osName(toks []uaToken) string {
	for _, t := range toks {
		if !t.comment {
			continue
		}
		for _, s := range systems {
			if strings.Contains(t.name, s.word) {
				return s.name
			}
		}
		return ""
	}
	return ""
}

// cliName describes this project's CLI: "rack-gateway-cli/1.2.3
// (linux/amd64)" → "rack-gateway CLI 1.2 on linux/amd64" (the version is
// optional, older CLIs send none).
func cliName(toks []uaToken) string {
	if len(toks) == 0 || toks[0].comment || toks[0].name != "rack-gateway-cli" {
		return ""
	}
	s := withVersion("rack-gateway CLI", versionPrefix(toks[0].version, 2))
	if len(toks) > 1 && toks[1].comment {
		for p := range strings.SplitSeq(toks[1].name, ";") {
			if p = strings.TrimSpace(p); isPlatform(p) {
				return s + " on " + p
			}
		}
	}
	return s
}

// isPlatform reports whether s is a Go GOOS/GOARCH pair like linux/amd64.
func isPlatform(s string) bool {
	goos, goarch, ok := strings.Cut(s, "/")
	return ok && isWord(goos, 16, false) && isWord(goarch, 16, false)
}

// tools are HTTP clients people use by hand or in scripts; the version
// shown is major.minor, or none for those whose version is not theirs.
var tools = []struct {
	product, name string
	versioned     bool
}{
	{"curl", "curl", true}, {"Wget", "Wget", true}, {"HTTPie", "HTTPie", true},
	{"python-requests", "Python requests", true}, {"python-httpx", "Python httpx", true},
	{"PostmanRuntime", "Postman", true}, {"insomnia", "Insomnia", true}, {"okhttp", "OkHttp", true},
	{"axios", "axios", true}, {"node-fetch", "node-fetch", true},
	{"Go-http-client", "Go HTTP client", false}, // "/1.1" is the HTTP version
}

// toolName names a known tool, or any other agent by its first product
// when that is a plain word: "SomeBot/2.1" → "SomeBot 2.1".
func toolName(toks []uaToken) string {
	if len(toks) == 0 || toks[0].comment {
		return ""
	}
	first := toks[0]
	for _, t := range tools {
		if first.name == t.product {
			if !t.versioned {
				return t.name
			}
			return withVersion(t.name, versionPrefix(first.version, 2))
		}
	}
	if first.name == "Mozilla" || !isWord(first.name, 32, true) {
		return ""
	}
	return withVersion(first.name, versionPrefix(first.version, 2))
}

// isWord reports whether s is 1..n characters of [a-z0-9] (a GOOS or
// GOARCH), or with name: of [A-Za-z0-9._-] starting with a letter.
func isWord(s string, n int, name bool) bool {
	if s == "" || len(s) > n {
		return false
	}
	upper := name
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && (i > 0 || !name):
		case upper && c >= 'A' && c <= 'Z':
		case upper && i > 0 && (c == '.' || c == '_' || c == '-'):
		default:
			return false
		}
	}
	return true
}
