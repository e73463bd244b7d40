package client

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// login checks that the gateway answers before it starts the browser flow:
// a host that does not resolve, or a port nobody listens on, fails at once
// with one line naming the host, instead of polling until --timeout.
func TestClientLoginFailsFastWhenUnreachable(t *testing.T) {
	// By design: the probe is bounded however the network behaves (a
	// resolver or a host that never answers).
	if probeTimeout > 10*time.Second {
		t.Fatalf("probeTimeout %v: login must fail within seconds", probeTimeout)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close() // nothing listens there now: connections are refused

	cases := []struct {
		name, url string
		want      []string // all in stderr
	}{
		// .invalid never resolves (RFC 6761), with or without a network.
		{"does not resolve", "https://gw.invalid", []string{
			"rack-gateway login: cannot reach the gateway at https://gw.invalid: ", `"gw.invalid"`, "DNS"}},
		{"refused", "http://" + closed, []string{
			"rack-gateway login: cannot reach the gateway at http://" + closed + ": " + closed +
				" refused the connection: is the gateway running there, and is the port right?\n"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			env := clientEnv(t)
			// --timeout: were the probe to let it through, the browser flow
			// would end quickly (and the assertions below fail).
			code, out, stderr := run(t, env, "login", c.url, "--no-browser", "--timeout", "2s")
			if code != 1 || out != "" || strings.Count(stderr, "\n") != 1 {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and one line", code, out, stderr)
			}
			for _, w := range c.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr %q lacks %q", stderr, w)
				}
			}
			if strings.Contains(stderr, "/auth/cli") || strings.Contains(stderr, "Waiting") {
				t.Errorf("the browser flow started: %q", stderr)
			}
			if _, err := os.Stat(filepath.Join(env["XDG_CONFIG_HOME"], "rack-gateway", "config.json")); !os.IsNotExist(err) {
				t.Errorf("a failed login saved something: %v", err)
			}
		})
	}
}

// Why a gateway was unreachable, in words naming the host.
func TestClientUnreachableMessages(t *testing.T) {
	refused := &url.Error{Op: "Get", URL: "https://gw.example.com/healthz", Err: &net.OpError{Op: "dial", Net: "tcp",
		Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}}
	cases := []struct {
		name, base string
		err        error
		want       string
	}{
		{"no such host", "https://gw.example.com", &url.Error{Op: "Get", Err: &net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "gw.example.com", IsNotFound: true}}},
			`the host "gw.example.com" does not resolve (no such host in DNS): check the URL`},
		{"dns timeout", "https://gw.example.com", &net.DNSError{Err: "i/o timeout", Name: "gw.example.com", IsTimeout: true},
			`looking up the host "gw.example.com" in DNS timed out: check your network and DNS settings`},
		{"dns server", "https://gw.example.com", &net.DNSError{Err: "server misbehaving", Name: "gw.example.com"},
			`cannot look up the host "gw.example.com" in DNS (server misbehaving): check your network and DNS settings`},
		{"refused, default https port", "https://gw.example.com", refused,
			"gw.example.com:443 refused the connection: is the gateway running there, and is the port right?"},
		{"refused, explicit port", "http://127.0.0.1:8447", refused,
			"127.0.0.1:8447 refused the connection: is the gateway running there, and is the port right?"},
		{"timeout", "https://gw.example.com:8443", &url.Error{Op: "Get", Err: context.DeadlineExceeded},
			"no answer from gw.example.com:8443 in time: is the host right, and reachable from here?"},
		{"unknown CA", "https://gw.example.com", &url.Error{Op: "Get", Err: fmt.Errorf("tls: %w", x509.UnknownAuthorityError{})},
			"the TLS certificate of gw.example.com is signed by an unknown authority"},
		{"other", "https://gw.example.com", &url.Error{Op: "Get", URL: "https://gw.example.com/x", Err: errors.New("EOF")}, "EOF"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := (&unreachableError{c.base, c.err}).Error()
			if want := "cannot reach the gateway at " + c.base + ": "; !strings.HasPrefix(got, want) || !strings.Contains(got, c.want) {
				t.Errorf("got %q; want %q%s", got, want, c.want)
			}
		})
	}
}
