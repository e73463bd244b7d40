// Package client is the rack-gateway command line of one person: the
// saved logins (login, logout, racks, switch, whoami), running the convox
// CLI through a gateway (convox, env) and administering a gateway through
// its HTTP API (users, sessions, tokens).
//
// It talks to gateways only over HTTP, with the wire types of
// internal/apitypes, and imports no server package (a test checks that):
// the client stays small, and its contract with the server is the API.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
)

// clientHTTP talks to gateways; tests may replace it.
var clientHTTP = &http.Client{Timeout: 30 * time.Second}

var clientUserAgent = "rack-gateway-cli (" + runtime.GOOS + "/" + runtime.GOARCH + ")"

// gatewayError is a refusal from the gateway: {"error": "...", "reason": "..."}.
type gatewayError struct {
	Status int
	Reason string
	Msg    string
	// MFALevel is the second factor the call needs (from
	// apitypes.HeaderMFARequired), "" if none.
	MFALevel string
}

func (g *gatewayError) Error() string {
	if g.Msg != "" {
		return g.Msg
	}
	return fmt.Sprintf("HTTP %d", g.Status)
}

// gatewayCall sends one API request with the target's token as Bearer and
// decodes a 2xx JSON answer into out (if not nil). Refusals come back as
// one line that says what to do next.
func gatewayCall(ctx context.Context, t *target, method, path string, out any) error {
	return gatewayCallBody(ctx, t, method, path, nil, out)
}

// gatewayCallBody is gatewayCall with a JSON body. A call that needs a
// second factor is retried once with the code the person types
// (t.prompt), as the gateway's answer asks.
func gatewayCallBody(ctx context.Context, t *target, method, path string, in, out any) error {
	err := rawCall(ctx, t.URL, t.Token, method, path, in, out)
	var g *gatewayError
	if errors.As(err, &g) && g.Status == http.StatusForbidden && t.prompt != nil &&
		g.MFALevel != "" && g.MFALevel != apitypes.MFALevelEnrol {
		code, perr := t.prompt.code(g.MFALevel, g.Msg)
		if perr != nil {
			return perr
		}
		err = rawCall(withMFACode(ctx, code), t.URL, t.Token, method, path, in, out)
	}
	return explain(t, err)
}

type mfaCodeKey struct{}

// withMFACode makes rawCall send code as the call's second factor.
func withMFACode(ctx context.Context, code string) context.Context {
	return context.WithValue(ctx, mfaCodeKey{}, code)
}

// rawCall is gatewayCall without the explanation or retry; token may be "".
func rawCall(ctx context.Context, base, token, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", clientUserAgent)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if code, _ := ctx.Value(mfaCodeKey{}).(string); code != "" {
		req.Header.Set(apitypes.HeaderMFACode, code)
	}
	resp, err := clientHTTP.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &unreachableError{base, err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return &unreachableError{base, err}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		g := decodeGatewayError(resp.StatusCode, data)
		g.MFALevel = resp.Header.Get(apitypes.HeaderMFARequired)
		return g
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("unexpected answer from the gateway at %s (%s): is this a rack-gateway URL?", base, path)
		}
	}
	return nil
}

func decodeGatewayError(status int, data []byte) *gatewayError {
	g := &gatewayError{Status: status}
	var b apitypes.Error
	if json.Unmarshal(data, &b) == nil {
		g.Reason, g.Msg = b.Reason, strings.TrimSpace(b.Error)
	}
	return g
}

// unreachableError: no HTTP answer from the gateway.
type unreachableError struct {
	base string
	err  error
}

func (u *unreachableError) Error() string {
	return fmt.Sprintf("cannot reach the gateway at %s: %s", u.base, whyUnreachable(u.base, u.err))
}

// whyUnreachable says in words why no HTTP answer came from the gateway at
// base, naming the host: it does not resolve, it refused the connection,
// it did not answer in time, or its certificate is not trusted.
func whyUnreachable(base string, err error) string {
	host, addr := base, base
	if u, perr := url.Parse(base); perr == nil && u.Hostname() != "" {
		host, addr = u.Hostname(), u.Host
		if u.Port() == "" {
			port := "443"
			if u.Scheme == "http" {
				port = "80"
			}
			addr = net.JoinHostPort(host, port)
		}
	}
	var (
		dnsErr     *net.DNSError
		unknownCA  x509.UnknownAuthorityError
		badHost    x509.HostnameError
		certErr    *tls.CertificateVerificationError
		invalidErr x509.CertificateInvalidError
		netErr     net.Error
	)
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("the host %q does not resolve (no such host in DNS): check the URL", orDefault(dnsErr.Name, host))
	case errors.As(err, &dnsErr) && dnsErr.IsTimeout:
		return fmt.Sprintf("looking up the host %q in DNS timed out: check your network and DNS settings", orDefault(dnsErr.Name, host))
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("cannot look up the host %q in DNS (%s): check your network and DNS settings", orDefault(dnsErr.Name, host), dnsErr.Err)
	case isConnRefused(err):
		return fmt.Sprintf("%s refused the connection: is the gateway running there, and is the port right?", addr)
	case errors.As(err, &unknownCA):
		return fmt.Sprintf("the TLS certificate of %s is signed by an unknown authority: is the URL right (or the system's CA certificates out of date)?", host)
	case errors.As(err, &badHost):
		return fmt.Sprintf("the TLS certificate of %s is not valid for that name (%v): is the URL right?", host, badHost.Error())
	case errors.As(err, &invalidErr), errors.As(err, &certErr):
		return fmt.Sprintf("the TLS certificate of %s is not valid: %v", host, err)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("no answer from %s in time: is the host right, and reachable from here?", addr)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err // without the URL, said already
	}
	return err.Error()
}

// isConnRefused reports whether err is a refused TCP connection.
func isConnRefused(err error) bool {
	return errors.Is(err, syscall.ECONNREFUSED) ||
		runtime.GOOS == "windows" && errors.Is(err, syscall.Errno(10061)) // WSAECONNREFUSED
}

func (u *unreachableError) Unwrap() error { return u.err }

// explain turns a gateway refusal into one line naming what to do next.
func explain(t *target, err error) error {
	var g *gatewayError
	if !errors.As(err, &g) {
		return err
	}
	detail := ""
	if g.Msg != "" {
		detail = ": " + g.Msg
	}
	switch g.Reason {
	case "session_expired":
		return t.errExpired()
	case "session_revoked":
		return fmt.Errorf("the session for %s was ended on the gateway: run %s", t.label(), t.relogin())
	case "unauthenticated", "invalid_credentials":
		if t.CI {
			return fmt.Errorf("%s did not accept RACK_GATEWAY_TOKEN: check the token, or ask a gateway admin for a new one", t.label())
		}
		return fmt.Errorf("the gateway did not accept the saved session for %s: run %s", t.label(), t.relogin())
	case "token_expired":
		return fmt.Errorf("the API token for %s has expired: ask a gateway admin for a new one", t.label())
	case "token_revoked":
		return fmt.Errorf("the API token for %s was revoked: ask a gateway admin for a new one", t.label())
	case "user_disabled":
		return fmt.Errorf("your account is disabled on %s: ask a gateway admin", t.URL)
	case "unknown_role":
		return fmt.Errorf("your account on %s has an unknown role: ask a gateway admin", t.URL)
	case "missing_permission", "token_scope":
		return fmt.Errorf("permission denied on %s%s", t.label(), detail)
	case "mfa_failed":
		return fmt.Errorf("the second factor was not accepted by %s%s", t.label(), detail)
	case "mfa_locked":
		return fmt.Errorf("second-factor sign-in is locked on %s after too many failed attempts: ask a gateway admin to unlock it", t.label())
	case "mfa_enrollment_required":
		return fmt.Errorf("you have no second factor on %s yet: enrol one at %s/account/mfa/enrol, then try again", t.label(), t.URL)
	case "step_up_required":
		return fmt.Errorf("this needs a second factor on %s: run rack-gateway mfa verify%s", t.label(), rackArg(t))
	case "auth_unavailable":
		return fmt.Errorf("the gateway at %s cannot check credentials right now: try again shortly", t.URL)
	case "audit_unavailable":
		return fmt.Errorf("the gateway at %s cannot record changes right now (its audit log is unavailable): try again shortly", t.URL)
	}
	switch g.Status {
	case http.StatusUnauthorized:
		if t.CI {
			return fmt.Errorf("%s did not accept RACK_GATEWAY_TOKEN%s", t.label(), detail)
		}
		return fmt.Errorf("the gateway did not accept the saved session for %s: run %s", t.label(), t.relogin())
	case http.StatusForbidden:
		return fmt.Errorf("permission denied on %s%s", t.label(), detail)
	case http.StatusNotFound:
		if g.Msg == "" {
			return fmt.Errorf("the gateway at %s answered 404 Not Found: is this a rack-gateway URL?", t.URL)
		}
	}
	return fmt.Errorf("the gateway at %s answered %d %s%s", t.URL, g.Status, http.StatusText(g.Status), detail)
}
