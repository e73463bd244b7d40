package console

import (
	"strings"
	"testing"
)

// Real User-Agent strings, as browsers and tools sent them in 2024, and a
// few hostile ones.
func TestClientName(t *testing.T) {
	for _, c := range []struct{ ua, want string }{
		// Desktop browsers.
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on macOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on Windows"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on Linux"},
		{"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "Chrome 131 on ChromeOS"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.85 Safari/537.36", "Headless Chrome 131 on Linux"},
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133 on Linux"},
		{"Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133 on Linux"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox 133 on macOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128 on Windows"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari 18 on macOS"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge 131 on Windows"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0", "Opera 115 on Windows"},
		{"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Vivaldi/7.0.3495.18", "Vivaldi 7 on Linux"},
		{"Mozilla/5.0 (X11; FreeBSD amd64; rv:128.0) Gecko/20100101 Firefox/128.0", "Firefox 128 on FreeBSD"},
		// Phones and tablets.
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari 18 on iOS"},
		{"Mozilla/5.0 (iPad; CPU OS 17_7 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.7 Mobile/15E148 Safari/604.1", "Safari 17 on iPadOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1", "Chrome 131 on iOS"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15", "Firefox 133 on iOS"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome 131 on Android"},
		{"Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36 EdgA/131.0.0.0", "Edge 131 on Android"},
		{"Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "Samsung Internet 26 on Android"},
		{"Mozilla/5.0 (Android 15; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0", "Firefox 133 on Android"},
		// This project's CLI (older ones send no version) and tools.
		{"rack-gateway-cli/1.2.3 (linux/amd64)", "rack-gateway CLI 1.2 on linux/amd64"},
		{"rack-gateway-cli/v0.9.0 (darwin/arm64)", "rack-gateway CLI 0.9 on darwin/arm64"},
		{"rack-gateway-cli (linux/amd64)", "rack-gateway CLI on linux/amd64"},
		{"rack-gateway-cli (windows/386; go1.27.3)", "rack-gateway CLI on windows/386"},
		{"rack-gateway-cli/(devel) (linux/<b>)", "rack-gateway CLI"},
		{"curl/8.5.0", "curl 8.5"},
		{"curl/7.88.1", "curl 7.88"},
		{"Wget/1.21.4", "Wget 1.21"},
		{"python-requests/2.32.3", "Python requests 2.32"},
		{"PostmanRuntime/7.42.0", "Postman 7.42"},
		{"HTTPie/3.2.4", "HTTPie 3.2"},
		{"Go-http-client/1.1", "Go HTTP client"},
		{"Go-http-client/2.0", "Go HTTP client"},
		{"SomeBot/2.1 (+https://example.com/bot)", "SomeBot 2.1"},
		// Unknown, empty and hostile.
		{"", ""},
		{"   ", ""},
		{"Mozilla/5.0 (compatible; MSIE 9.0)", ""},
		{"Mozilla/5.0 (Windows NT 10.0) AppleWebKit/537.36 Chrome/x.y Safari/537.36", "Chrome on Windows"},
		{`"><script>alert(1)</script>`, ""},
		{"<img src=x onerror=alert(1)>/1.0", ""},
		{"Evil\u202eBrowser/1.0", ""},
		{"Chrome/131.0.0.0", "Chrome 131.0"}, // not a browser's whole header: named as any other product
		{"Mozilla/5.0 (((((((", ""},
		{"Mozilla/5.0 (X11; Linux x86_64) Chrome/99999999999999999999.0", "Chrome 99999999 on Linux"},
		{strings.Repeat("(", 10000), ""},
		{"Mozilla/5.0 " + strings.Repeat("a/1 ", 5000) + "Firefox/133.0", ""}, // the part scanned names no browser
	} {
		if got := clientName(c.ua); got != c.want {
			t.Errorf("clientName(%.80q) = %q, want %q", c.ua, got, c.want)
		}
	}
}

func TestVersionPrefix(t *testing.T) {
	for _, c := range []struct {
		v    string
		n    int
		want string
	}{
		{"131.0.6778.85", 1, "131"}, {"8.5.0", 2, "8.5"}, {"v1.2.3", 2, "1.2"}, {"1", 2, "1"},
		{"2.0-rc1", 2, "2.0"}, {"1-rc1.5", 2, "1"}, {"(devel)", 2, ""}, {"", 1, ""}, {"18_1", 1, "18"},
	} {
		if got := versionPrefix(c.v, c.n); got != c.want {
			t.Errorf("versionPrefix(%q, %d) = %q, want %q", c.v, c.n, got, c.want)
		}
	}
}
