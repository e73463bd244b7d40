package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// clDev is one `rack-gateway dev` subprocess.
type clDev struct {
	p          *proc
	url        string // http://127.0.0.1:PORT
	data       string
	adminToken string // the admin's API token from the quick start
}

// clStartDev starts `rack-gateway dev` on a free loopback port, waits for
// its quick start and reads the admin API token from it. The gateway is
// stopped with SIGINT at the end of the test and must exit cleanly.
func clStartDev(t *testing.T, name string) *clDev {
	t.Helper()
	g := &clDev{data: t.TempDir()}
	addr := freeAddr(t)
	g.url = "http://" + addr
	// Second factors have tests of their own (cli_mfa_test.go).
	g.p = start(t, name, nil, "dev", "--data", g.data, "--addr", addr, "--no-mfa")
	t.Cleanup(func() { clInterrupt(t, g.p) }) // runs before start's kill
	re := regexp.MustCompile(`Admin API:\s+curl -H 'Authorization: Bearer (rgw_[A-Za-z0-9_-]+)'`)
	testutil.Poll(testutil.Patience, func() bool {
		select {
		case <-g.p.done:
			t.Fatalf("%s exited before its quick start (%v):\n%s", name, g.p.err, g.p.stderr.String())
		default:
		}
		out := g.p.stderr.String()
		if m := re.FindStringSubmatch(out); m != nil && strings.Contains(out, "Press Ctrl-C to stop.") {
			g.adminToken = m[1]
		}
		return g.adminToken != ""
	})
	if g.adminToken == "" {
		t.Fatalf("%s printed no quick start with an admin token within %v:\n%s", name, testutil.Patience, g.p.stderr.String())
	}
	if !strings.Contains(g.p.stderr.String(), "rack-gateway dev is running on "+g.url) {
		t.Fatalf("%s quick start does not name %s:\n%s", name, g.url, g.p.stderr.String())
	}
	waitHealthy(t, g.p, g.url)
	return g
}

// clInterrupt stops a process with SIGINT (Ctrl-C) and requires exit 0.
func clInterrupt(t *testing.T, p *proc) {
	select {
	case <-p.done:
		return // already gone: start's cleanup reports it on failure
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGINT)
	select {
	case <-p.done:
		if p.err != nil {
			t.Errorf("%s exited with %v after SIGINT:\n%s", p.name, p.err, p.stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not exit within 20s of SIGINT", p.name)
	}
}

// clBrowser is a person's browser: its own cookies, and the chain of
// redirects of the last request.
type clBrowser struct {
	t    *testing.T
	c    *http.Client
	hops []string // METHOD URL -> status, for the last request
}

func clNewBrowser(t *testing.T) *clBrowser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	b := &clBrowser{t: t}
	b.c = &http.Client{Jar: jar, Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 10 {
				return http.ErrUseLastResponse
			}
			b.hops = append(b.hops, req.Method+" "+req.URL.String())
			return nil
		}}
	return b
}

// clPage is a page the browser ended on.
type clPage struct {
	status int
	url    *url.URL // after redirects
	body   string
}

// do sends req (following redirects) and reads the final page.
func (b *clBrowser) do(req *http.Request) clPage {
	b.t.Helper()
	b.hops = []string{req.Method + " " + req.URL.String()}
	resp, err := b.c.Do(req)
	if err != nil {
		b.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		b.t.Fatalf("%s %s: read body: %v", req.Method, req.URL, err)
	}
	return clPage{status: resp.StatusCode, url: resp.Request.URL, body: string(body)}
}

func (b *clBrowser) get(u string) clPage {
	b.t.Helper()
	req, err := http.NewRequest("GET", u, nil)
	if err != nil {
		b.t.Fatal(err)
	}
	return b.do(req)
}

// postForm submits a form as a browser would from a page of origin.
func (b *clBrowser) postForm(action, origin string, form url.Values) clPage {
	b.t.Helper()
	req, err := http.NewRequest("POST", action, strings.NewReader(form.Encode()))
	if err != nil {
		b.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", origin)
	if u, _ := url.Parse(action); u != nil && u.Scheme+"://"+u.Host == origin {
		req.Header.Set("Sec-Fetch-Site", "same-origin")
	} else {
		req.Header.Set("Sec-Fetch-Site", "cross-site")
	}
	return b.do(req)
}

// clIdPForm is the dev identity provider's sign-in form.
type clIdPForm struct {
	action  string // absolute
	origin  string
	request string
	emails  []string // one button per user
}

var (
	clFormRe    = regexp.MustCompile(`<form method="post" action="([^"]*)">\s*<input type="hidden" name="request" value="([^"]+)">`)
	clButtonRe  = regexp.MustCompile(`<button type="submit" name="email" value="([^"]+)">`)
	clCodeRe    = regexp.MustCompile(`<p class="code">([A-Z2-7]{4}-[A-Z2-7]{4})</p>`)
	clCLICodeRe = regexp.MustCompile(`Confirmation code: ([A-Z2-7]{4}-[A-Z2-7]{4}) `)
)

// clParseIdPForm reads the dev IdP's sign-in page.
func clParseIdPForm(t *testing.T, p clPage) clIdPForm {
	t.Helper()
	m := clFormRe.FindStringSubmatch(p.body)
	if p.status != 200 || m == nil {
		t.Fatalf("dev identity provider page at %v: %d\n%s", p.url, p.status, p.body)
	}
	action, err := p.url.Parse(m[1])
	if err != nil {
		t.Fatal(err)
	}
	f := clIdPForm{action: action.String(), origin: p.url.Scheme + "://" + p.url.Host, request: m[2]}
	for _, b := range clButtonRe.FindAllStringSubmatch(p.body, -1) {
		f.emails = append(f.emails, b[1])
	}
	return f
}

// clWaitFile waits for a non-empty file (what the browser stand-in wrote).
func clWaitFile(t *testing.T, p *proc, path string) string {
	t.Helper()
	var got string
	testutil.Poll(testutil.Patience, func() bool {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			got = string(b)
			return true
		}
		select {
		case <-p.done:
			t.Fatalf("%s exited before opening the browser (%v):\n%s", p.name, p.err, p.stderr.String())
		default:
		}
		return false
	})
	if got == "" {
		t.Fatalf("%s did not run the browser within %v:\n%s", p.name, testutil.Patience, p.stderr.String())
	}
	return got
}

// clWaitOutput waits until a running process has printed a match of re.
func clWaitOutput(t *testing.T, p *proc, re *regexp.Regexp) []string {
	t.Helper()
	var m []string
	testutil.Poll(testutil.Patience, func() bool {
		if m = re.FindStringSubmatch(p.stderr.String()); m != nil {
			return true
		}
		select {
		case <-p.done:
			if m = re.FindStringSubmatch(p.stderr.String()); m == nil {
				t.Fatalf("%s exited (%v) without printing %v:\n%s", p.name, p.err, re, p.stderr.String())
			}
			return true
		default:
		}
		return false
	})
	if m == nil {
		t.Fatalf("%s did not print %v within %v:\n%s", p.name, re, testutil.Patience, p.stderr.String())
	}
	return m
}

// clWaitExit waits for a process to finish.
func clWaitExit(t *testing.T, p *proc, within time.Duration) {
	t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		t.Fatalf("%s did not finish within %v:\n%s", p.name, within, p.stderr.String())
	}
}

// clAPI makes one gateway API call with a Bearer token and returns the
// status and the decoded "reason" of an error answer.
func clAPI(t *testing.T, method, u, token string, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	var e struct {
		Reason string `json:"reason"`
	}
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &e)
	return resp.StatusCode, e.Reason
}

// clConfig is the CLI's saved logins as written to disk.
type clConfig struct {
	Current string `json:"current"`
	Racks   map[string]struct {
		URL   string `json:"url"`
		Token string `json:"token"`
		Email string `json:"email"`
		Role  string `json:"role"`
	} `json:"racks"`
}

func clReadConfig(t *testing.T, path string) (clConfig, string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read CLI config: %v", err)
	}
	var c clConfig
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("CLI config is not JSON: %v\n%s", err, raw)
	}
	return c, string(raw)
}

func clMerge(maps ...map[string]string) map[string]string {
	out := map[string]string{}
	for _, m := range maps {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// clOneLine reports whether s is exactly one non-empty line.
func clOneLine(s string) bool {
	s = strings.TrimRight(s, "\n")
	return s != "" && !strings.Contains(s, "\n")
}
