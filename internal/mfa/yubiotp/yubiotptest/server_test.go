package yubiotptest_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp/yubiotptest"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

const (
	client = "87"
	pub    = "ccccccjuliet"
	nonce  = "0123456789abcdefABCDEF"
)

// get sends a request with params (signed with key unless nil) and returns
// the answer's lines in order.
func get(t *testing.T, s *yubiotptest.Server, key []byte, params map[string]string) []string {
	t.Helper()
	q := url.Values{}
	for k, v := range params {
		q.Set(k, v)
	}
	if key != nil {
		q.Set("h", hmacB64(key, params))
	}
	resp, err := http.Get(s.URL + "?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	if !strings.HasSuffix(string(body), "\r\n\r\n") {
		t.Fatalf("answer %q does not end with an empty CRLF line", body)
	}
	return strings.Split(strings.TrimSuffix(string(body), "\r\n\r\n"), "\r\n")
}

func hmacB64(key []byte, params map[string]string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, k+"="+params[k])
	}
	m := hmac.New(sha1.New, key)
	m.Write([]byte(strings.Join(pairs, "&")))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// check asserts the answer's keys in order, its status, and that its h is
// the HMAC under key of the other lines.
func check(t *testing.T, lines []string, key []byte, status string, keys ...string) map[string]string {
	t.Helper()
	fields := map[string]string{}
	var got []string
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		got = append(got, k)
		fields[k] = v
	}
	want := append(append([]string{"h", "t"}, keys...), "status")
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("lines %v; want keys %v", lines, want)
	}
	if fields["status"] != status {
		t.Errorf("status %s; want %s", fields["status"], status)
	}
	h := fields["h"]
	delete(fields, "h")
	if want := hmacB64(key, fields); h != want {
		t.Errorf("h %s; want %s", h, want)
	}
	return fields
}

func TestServerFollowsTheProtocol(t *testing.T) {
	key, _ := yubiotptest.NewKey()
	s := yubiotptest.NewServer(t, client, key)
	s.AddKey(pub)
	otp := s.OTP(pub)
	if len(otp) != 44 || !strings.HasPrefix(otp, pub) {
		t.Fatalf("OTP %q", otp)
	}
	base := func(extra ...string) map[string]string {
		p := map[string]string{"id": client, "otp": otp, "nonce": nonce}
		for i := 0; i < len(extra); i += 2 {
			if extra[i+1] == "" {
				delete(p, extra[i])
			} else {
				p[extra[i]] = extra[i+1]
			}
		}
		return p
	}
	echo := []string{"otp", "nonce"}

	// Checks before the client is known: signed with an empty key.
	check(t, get(t, s, key, base("nonce", "")), nil, "MISSING_PARAMETER")
	check(t, get(t, s, key, base("nonce", "short")), nil, "MISSING_PARAMETER")
	check(t, get(t, s, key, base("nonce", "has-a-dash-0123456789")), nil, "MISSING_PARAMETER")
	check(t, get(t, s, key, base("id", "x1")), nil, "MISSING_PARAMETER")
	check(t, get(t, s, key, base("sl", "many")), nil, "MISSING_PARAMETER")
	check(t, get(t, s, key, base("timeout", "1s")), nil, "MISSING_PARAMETER")
	check(t, get(t, s, key, base("otp", "not-an-otp")), nil, "BAD_OTP")
	check(t, get(t, s, key, base("id", "88")), nil, "NO_SUCH_CLIENT")
	// Then the signature, with the client's key.
	other, _ := yubiotptest.NewKey()
	check(t, get(t, s, other, base()), key, "BAD_SIGNATURE")
	// Unknown keys and OTPs never minted.
	check(t, get(t, s, key, base("otp", yubiotptest.RandomOTP("cccccceveeee"))), key, "BAD_OTP")
	check(t, get(t, s, key, base("otp", yubiotptest.RandomOTP(pub))), key, "BAD_OTP")

	// The OTP: OK once (signed, sl and fast/secure accepted), then the
	// same request is REPLAYED_REQUEST and another is REPLAYED_OTP.
	f := check(t, get(t, s, key, base("timestamp", "1", "sl", "secure")), key, "OK",
		"otp", "nonce", "sl", "timestamp", "sessioncounter", "sessionuse")
	if f["otp"] != otp || f["nonce"] != nonce || f["sessionuse"] != "1" {
		t.Errorf("OK answer %v", f)
	}
	check(t, get(t, s, key, base("timestamp", "1", "sl", "secure")), key, "REPLAYED_REQUEST", echo...)
	check(t, get(t, s, key, base("nonce", "ANOTHERnonce0123456789")), key, "REPLAYED_OTP", echo...)
	// Without timestamp=1 no counters; upper case is the same OTP; an
	// unsigned request is served.
	next := s.OTP(pub)
	f = check(t, get(t, s, nil, base("otp", strings.ToUpper(next))), key, "OK", "otp", "nonce", "sl")
	if f["otp"] != next {
		t.Errorf("otp %s; want %s", f["otp"], next)
	}

	if n := s.Requests(); n != 15 {
		t.Errorf("Requests = %d; want 15", n)
	}
	resp, err := http.Get(strings.TrimSuffix(s.URL, yubiotptest.Path) + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 || s.Requests() != 15 {
		t.Errorf("other path: HTTP %d, %d requests", resp.StatusCode, s.Requests())
	}
}

func TestServerKnobs(t *testing.T) {
	key, _ := yubiotptest.NewKey()
	s := yubiotptest.NewServer(t, client, key)
	s.AddKey(pub)
	p := func() map[string]string { return map[string]string{"id": client, "otp": s.OTP(pub), "nonce": nonce} }

	s.SetStatus("BACKEND_ERROR")
	check(t, get(t, s, key, p()), key, "BACKEND_ERROR")
	s.SetStatus("NOT_ENOUGH_ANSWERS")
	check(t, get(t, s, key, p()), key, "NOT_ENOUGH_ANSWERS", "otp", "nonce", "sl")
	s.SetStatus("")

	s.SetMode(yubiotptest.WrongNonce)
	params := p()
	f := check(t, get(t, s, key, params), key, "OK", "otp", "nonce", "sl")
	if f["nonce"] == nonce || f["otp"] != params["otp"] {
		t.Errorf("WrongNonce: %v", f)
	}
	s.SetMode(yubiotptest.WrongOTP)
	params = p()
	f = check(t, get(t, s, key, params), key, "OK", "otp", "nonce", "sl")
	if f["otp"] == params["otp"] || f["nonce"] != nonce {
		t.Errorf("WrongOTP: %v", f)
	}
	s.SetMode(yubiotptest.BadSignature)
	lines := get(t, s, key, p())
	fields := map[string]string{}
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		fields[k] = v
	}
	h := fields["h"]
	delete(fields, "h")
	if fields["status"] != "OK" || h == hmacB64(key, fields) {
		t.Errorf("BadSignature: %v", lines)
	}
	s.SetMode(yubiotptest.Honest)

	// Stall: the request ends when the client goes away.
	s.SetMode(yubiotptest.Stall)
	ctx, cancel := context.WithTimeout(t.Context(), testutil.Patience)
	defer cancel()
	rctx, rcancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(rctx, "GET", s.URL+"?id="+client, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	if err := s.WaitRequests(ctx, 6); err != nil {
		t.Fatal(err)
	}
	if s.Finished() != 5 {
		t.Errorf("Finished = %d while stalled", s.Finished())
	}
	rcancel()
	if err := <-done; err == nil {
		t.Error("a stalled request got an answer")
	}
	if err := s.WaitFinished(ctx, 6); err != nil {
		t.Fatal(err)
	}
}
