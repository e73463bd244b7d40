package gateway_test

import (
	"bufio"
	"context"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// hostileCase is one request of testdata/hostile-requests.txt.
type hostileCase struct {
	name    string
	answers []hostileAnswer // in order, on one connection
	rack    bool
	raw     string
}

type hostileAnswer struct {
	status int
	text   string
}

var (
	repeatRE = regexp.MustCompile(`\{repeat:(\d+):([^}]*)\}`)
	hexRE    = regexp.MustCompile(`\\x([0-9a-fA-F]{2})`)
)

func loadHostile(t *testing.T) []hostileCase {
	t.Helper()
	b, err := os.ReadFile("testdata/hostile-requests.txt")
	if err != nil {
		t.Fatal(err)
	}
	var (
		cases []hostileCase
		cur   *hostileCase
		lines []string
	)
	flush := func() {
		if cur != nil {
			// The request ends with its blank line; a body follows it
			// without a final newline.
			cur.raw = strings.TrimRight(strings.Join(lines, "\r\n"), "\r\n")
			if !strings.Contains(cur.raw, "\r\n\r\n") {
				cur.raw += "\r\n\r\n"
			}
			cases = append(cases, *cur)
		}
		cur, lines = nil, nil
	}
	for _, line := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(line, "### name "):
			flush()
			cur = &hostileCase{name: strings.TrimPrefix(line, "### name ")}
		case strings.HasPrefix(line, "### expect "):
			f := strings.SplitN(strings.TrimPrefix(line, "### expect "), " ", 2)
			var a hostileAnswer
			a.status, _ = strconv.Atoi(f[0])
			if len(f) == 2 {
				a.text = f[1]
			}
			cur.answers = append(cur.answers, a)
		case strings.HasPrefix(line, "### rack "):
			cur.rack = strings.TrimPrefix(line, "### rack ") == "yes"
		case strings.HasPrefix(line, "#"), cur == nil:
		default:
			lines = append(lines, line)
		}
	}
	flush()
	return cases
}

// The hostile-request corpus against a real gateway: each request gets its
// expected answer, and none that should be stopped reaches the rack.
func TestHostileRequestCorpus(t *testing.T) {
	cases := loadHostile(t)
	if len(cases) < 20 {
		t.Fatalf("only %d cases read from the corpus", len(cases))
	}
	e := newEnv(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.gw.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	addr := ln.Addr().String()
	subst := strings.NewReplacer("{host}", addr, "{admin}", basic(e.tokens[authz.RoleAdmin]),
		"{viewer}", basic(e.tokens[authz.RoleViewer]))
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			raw := subst.Replace(c.raw)
			raw = repeatRE.ReplaceAllStringFunc(raw, func(m string) string {
				sm := repeatRE.FindStringSubmatch(m)
				n, _ := strconv.Atoi(sm[1])
				return strings.Repeat(sm[2], n)
			})
			raw = hexRE.ReplaceAllStringFunc(raw, func(m string) string {
				b, _ := hex.DecodeString(m[2:])
				return string(b)
			})
			before := len(e.rack.Requests())
			conn, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(testutil.Patience))
			go func() { _, _ = io.WriteString(conn, raw) }() // the server may answer before reading it all
			br := bufio.NewReader(conn)
			for i, want := range c.answers {
				resp, err := http.ReadResponse(br, nil)
				if err != nil {
					t.Fatalf("answer %d: none: %v", i+1, err)
				}
				body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
				resp.Body.Close()
				if resp.StatusCode != want.status || !strings.Contains(string(body), want.text) {
					t.Errorf("answer %d: %d %.300s, want %d containing %q", i+1, resp.StatusCode, body, want.status, want.text)
				}
			}
			if c.rack {
				// The rack logs a call when it has finished with it, which
				// may be after the gateway answered: wait, so that the log
				// is settled for the next case.
				testutil.Eventually(t, "the rack to log the call", func() bool { return len(e.rack.Requests()) > before })
			} else if reached := len(e.rack.Requests()) > before; reached {
				t.Errorf("the request reached the rack: %+v", e.rack.Requests()[before:])
			}
		})
	}
}
