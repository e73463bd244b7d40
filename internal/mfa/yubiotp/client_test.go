package yubiotp

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/mfa/yubiotp/yubiotptest"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

const (
	clientID = "4711"
	alice    = "ccccccjuliet" // public ids: 12 modhex characters
	bob      = "ccccccbertie"
)

// fixture is a fake service with alice's and bob's keys, and a client of it.
func fixture(t *testing.T, replicas int) (*Client, []*yubiotptest.Server) {
	t.Helper()
	key, b64 := yubiotptest.NewKey()
	first := yubiotptest.NewServer(t, clientID, key)
	first.AddKey(alice)
	first.AddKey(bob)
	servers := []*yubiotptest.Server{first}
	for range replicas {
		servers = append(servers, first.Replica(t))
	}
	var urls []string
	for _, s := range servers {
		urls = append(urls, s.URL)
	}
	c, err := NewClient(clientID, b64, urls)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = testutil.Patience // a fail-safe; tests cancel their own contexts
	return c, servers
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), testutil.Patience)
	t.Cleanup(cancel)
	return c
}

func TestVerifyValid(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 0)
	otp := s[0].OTP(alice)
	r, err := c.Verify(ctx(t), " "+strings.ToUpper(otp)+"\n")
	if err != nil {
		t.Fatal(err)
	}
	if r.OTP != otp || r.PublicID != alice || r.Server != s[0].URL {
		t.Errorf("result %+v; want OTP %s of %s from %s", r, otp, alice, s[0].URL)
	}
	if r.Time == "" || r.SessionUse != 1 || r.SessionCounter != 1 || r.Timestamp != 8 {
		t.Errorf("result %+v lacks the counters", r)
	}
}

// The public id the client reports is the key's: binding it to a user is
// the caller's job, and it must be able to trust this value.
func TestVerifyReportsTheKeysPublicID(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 0)
	for _, id := range []string{alice, bob} {
		otp := s[0].OTP(id)
		if got, err := PublicID(otp); err != nil || got != id {
			t.Fatalf("PublicID = %q, %v; want %q", got, err, id)
		}
		r, err := c.Verify(ctx(t), otp)
		if err != nil {
			t.Fatal(err)
		}
		if r.PublicID != id {
			t.Errorf("Verify reports %q for an OTP of %q", r.PublicID, id)
		}
	}
}

func TestVerifyReplayed(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 0)
	older, newer := s[0].OTP(alice), s[0].OTP(alice)
	if _, err := c.Verify(ctx(t), newer); err != nil {
		t.Fatal(err)
	}
	for name, otp := range map[string]string{"same OTP again": newer, "older OTP after a newer one": older} {
		_, err := c.Verify(ctx(t), otp)
		var se *StatusError
		if !errors.Is(err, ErrReplayed) || !errors.As(err, &se) || se.Status != StatusReplayedOTP {
			t.Errorf("%s: err = %v; want ErrReplayed", name, err)
		}
	}
	// Another key's counters are its own.
	if _, err := c.Verify(ctx(t), s[0].OTP(bob)); err != nil {
		t.Errorf("bob after alice: %v", err)
	}
}

func TestVerifyRefusesTamperedAnswers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		mode yubiotptest.Mode
		want string
	}{
		{yubiotptest.BadSignature, "signature does not verify"},
		{yubiotptest.WrongNonce, "nonce"},
		{yubiotptest.WrongOTP, "not about the OTP sent"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			t.Parallel()
			c, s := fixture(t, 0)
			s[0].SetMode(tt.mode)
			_, err := c.Verify(ctx(t), s[0].OTP(alice))
			if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want ErrInvalidResponse (%s)", err, tt.want)
			}
			if s[0].Requests() != 1 {
				t.Errorf("%d requests", s[0].Requests())
			}
		})
	}
}

func TestVerifyStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status string
		is     error // nil: only a *StatusError
	}{
		{StatusBadOTP, ErrBadOTP},
		{StatusReplayedOTP, ErrReplayed},
		{StatusBackendError, nil},
		{StatusNotEnoughAnswers, nil},
		{StatusOperationNotAllowed, nil},
		{StatusReplayedRequest, nil},
		{"SOMETHING_NEW", nil},
	}
	for _, tt := range tests {
		t.Run(tt.status, func(t *testing.T) {
			t.Parallel()
			c, s := fixture(t, 0)
			s[0].SetStatus(tt.status)
			_, err := c.Verify(ctx(t), s[0].OTP(alice))
			var se *StatusError
			if !errors.As(err, &se) || se.Status != tt.status || se.Server != s[0].URL {
				t.Fatalf("err = %v; want a StatusError %s", err, tt.status)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("err = %v; want %v", err, tt.is)
			}
			for _, other := range []error{ErrBadOTP, ErrReplayed} {
				if other != tt.is && errors.Is(err, other) {
					t.Errorf("err = %v is also %v", err, other)
				}
			}
		})
	}
}

func TestVerifyUnknownKeyIsBadOTP(t *testing.T) {
	t.Parallel()
	c, _ := fixture(t, 0)
	for _, otp := range []string{yubiotptest.RandomOTP("cccccceveeee"), yubiotptest.RandomOTP(alice)} {
		if _, err := c.Verify(ctx(t), otp); !errors.Is(err, ErrBadOTP) {
			t.Errorf("err = %v; want ErrBadOTP", err)
		}
	}
}

func TestVerifyMalformedOTPAsksNoServer(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 0)
	if _, err := c.Verify(ctx(t), "123456"); !errors.Is(err, ErrMalformedOTP) {
		t.Fatalf("err = %v", err)
	}
	if n := s[0].Requests(); n != 0 {
		t.Errorf("%d requests", n)
	}
}

// A server with the wrong key answers BAD_SIGNATURE signed with the right
// one, which the client cannot verify: refused, and the message says why.
func TestVerifyWrongKey(t *testing.T) {
	t.Parallel()
	_, s := fixture(t, 0)
	_, wrong := yubiotptest.NewKey()
	c, err := NewClient(clientID, wrong, []string{s[0].URL})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Verify(ctx(t), s[0].OTP(alice))
	if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), StatusBadSignature) {
		t.Fatalf("err = %v; want ErrInvalidResponse naming BAD_SIGNATURE", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Errorf("the error quotes the key: %v", err)
	}
}

func TestVerifyUnknownClient(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 0)
	c.ID = "4712"
	_, err := c.Verify(ctx(t), s[0].OTP(alice))
	if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), StatusNoSuchClient) {
		t.Fatalf("err = %v; want ErrInvalidResponse naming NO_SUCH_CLIENT", err)
	}
}

// YubiCloud's scheme: the servers synchronise, so the one that did not
// validate first says REPLAYED_REQUEST for our otp and nonce. OK wins,
// whichever answer comes first.
func TestVerifyReplicas(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 2)
	for i := range 20 {
		if _, err := c.Verify(ctx(t), s[0].OTP(alice)); err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

// REPLAYED_REQUEST answered first does not decide: the client waits for
// the OK of the server that is held back.
func TestVerifyReplayedRequestThenOK(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 1)
	ok, replayed := s[0], s[1]
	replayed.SetStatus(StatusReplayedRequest)
	release := ok.Hold()
	defer release()
	done := make(chan error, 1)
	otp := ok.OTP(alice)
	go func() {
		_, err := c.Verify(ctx(t), otp)
		done <- err
	}()
	if err := replayed.WaitFinished(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := ok.WaitRequests(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A server that never answers does not delay the answer of another, and
// its request is cancelled once the answer is in.
func TestVerifyStallingServerIsNotAwaited(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 1)
	staller, ok := s[0], s[1]
	staller.SetMode(yubiotptest.Stall)
	// The OK waits until the staller has the request, so that there is
	// a request to cancel.
	release := ok.Hold()
	defer release()
	type outcome struct {
		r   Result
		err error
	}
	done := make(chan outcome, 1)
	otp := ok.OTP(alice)
	go func() {
		r, err := c.Verify(ctx(t), otp)
		done <- outcome{r, err}
	}()
	if err := staller.WaitRequests(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	release()
	o := <-done
	r, err := o.r, o.err
	if err != nil {
		t.Fatal(err)
	}
	if r.Server != ok.URL {
		t.Errorf("answer from %s", r.Server)
	}
	// The stalled request ends only when the client abandons it.
	if err := staller.WaitFinished(ctx(t), 1); err != nil {
		t.Fatalf("the stalled request was not cancelled: %v", err)
	}
}

func TestVerifyAllStalling(t *testing.T) {
	t.Parallel()
	t.Run("caller cancels", func(t *testing.T) {
		t.Parallel()
		c, s := fixture(t, 1)
		for _, srv := range s {
			srv.SetMode(yubiotptest.Stall)
		}
		vctx, cancel := context.WithCancel(ctx(t))
		done := make(chan error, 1)
		otp := s[0].OTP(alice)
		go func() {
			_, err := c.Verify(vctx, otp)
			done <- err
		}()
		for _, srv := range s {
			if err := srv.WaitRequests(ctx(t), 1); err != nil {
				t.Fatal(err)
			}
		}
		cancel()
		err := <-done
		if !errors.Is(err, ErrInvalidResponse) || !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v; want ErrInvalidResponse and context.Canceled", err)
		}
		for _, srv := range s {
			if err := srv.WaitFinished(ctx(t), 1); err != nil {
				t.Fatal(err)
			}
		}
	})
	t.Run("client timeout", func(t *testing.T) {
		t.Parallel()
		c, s := fixture(t, 0)
		s[0].SetMode(yubiotptest.Stall)
		c.Timeout = 1 // passes at once: the outcome does not depend on the machine's speed
		_, err := c.Verify(ctx(t), s[0].OTP(alice))
		if !errors.Is(err, ErrInvalidResponse) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want ErrInvalidResponse and DeadlineExceeded", err)
		}
	})
}

// One bad server's answer is no answer; a good one still decides.
func TestVerifyInvalidAnswerThenValid(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 1)
	forger, ok := s[0], s[1]
	forger.SetStatus(StatusOK) // a forged OK that touches no counter
	forger.SetMode(yubiotptest.BadSignature)
	release := ok.Hold()
	defer release()
	done := make(chan error, 1)
	otp := ok.OTP(alice)
	go func() {
		r, err := c.Verify(ctx(t), otp)
		if err == nil && r.Server != ok.URL {
			err = errors.New("answer taken from " + r.Server)
		}
		done <- err
	}()
	if err := forger.WaitFinished(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	if err := ok.WaitRequests(ctx(t), 1); err != nil {
		t.Fatal(err)
	}
	release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestVerifyBrokenServers(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    string
	}{
		{"HTTP 500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "oops", 500) }, "HTTP status 500"},
		{"huge answer", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "status=OK\r\npadding="+strings.Repeat("x", 5000)+"\r\n")
		}, "longer than"},
		{"not key=value", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<html>hello</html>") }, "not key=value"},
		{"no status", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "h=abc\r\n") }, "no status"},
		{"repeated key", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, "status=OK\r\nstatus=OK\r\n")
		}, "repeats"},
		{"unsigned OK", func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			io.WriteString(w, "otp="+q.Get("otp")+"\r\nnonce="+q.Get("nonce")+"\r\nstatus=OK\r\n")
		}, "signature does not verify"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			hs := httptest.NewServer(tt.handler)
			t.Cleanup(hs.Close)
			_, b64 := yubiotptest.NewKey()
			c, err := NewClient(clientID, b64, []string{hs.URL})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.Verify(ctx(t), yubiotptest.RandomOTP(alice))
			if !errors.Is(err, ErrInvalidResponse) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want ErrInvalidResponse (%s)", err, tt.want)
			}
		})
	}
}

// Errors must not carry the request URL: it holds the OTP and signature.
func TestVerifyTransportErrorQuotesNoSecrets(t *testing.T) {
	t.Parallel()
	hs := httptest.NewServer(http.NotFoundHandler())
	hs.Close()
	_, b64 := yubiotptest.NewKey()
	c, err := NewClient(clientID, b64, []string{hs.URL + "/verify"})
	if err != nil {
		t.Fatal(err)
	}
	otp := yubiotptest.RandomOTP(alice)
	_, err = c.Verify(ctx(t), otp)
	if !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("err = %v", err)
	}
	for _, secret := range []string{otp, b64, "h=", "nonce="} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error %q contains %q", err, secret)
		}
	}
}

func TestUnsigned(t *testing.T) {
	t.Parallel()
	c, s := fixture(t, 0)
	c.Key = nil
	otp := s[0].OTP(alice)
	if _, err := c.Verify(ctx(t), otp); err == nil || !strings.Contains(err.Error(), "no API key") {
		t.Fatalf("err = %v; want a refusal to run unsigned", err)
	}
	if n := s[0].Requests(); n != 0 {
		t.Fatalf("%d requests", n)
	}
	c.AllowUnsigned = true
	if _, err := c.Verify(ctx(t), otp); err != nil {
		t.Fatal(err)
	}
	// Unsigned, the otp and nonce are still checked.
	s[0].SetMode(yubiotptest.WrongNonce)
	if _, err := c.Verify(ctx(t), s[0].OTP(alice)); !errors.Is(err, ErrInvalidResponse) {
		t.Fatalf("err = %v", err)
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	const key = "AAECAwQFBgcICQoLDA0ODxAREhM="
	tests := []struct {
		name, id, key string
		servers       []string
		want          string // "" for success
	}{
		{"defaults", "87", key, nil, ""},
		{"two servers", "87", " " + key + "\n", []string{"https://a.example/wsapi/2.0/verify", "http://127.0.0.1:8080/verify"}, ""},
		{"no id", "", key, nil, "client id"},
		{"id not a number", "abc", key, nil, "client id"},
		{"id zero", "000", key, nil, "client id"},
		{"id too long", "12345678901", key, nil, "client id"},
		{"no key", "87", "", nil, "API key is required"},
		{"key not base64", "87", "sëcret*key", nil, "not valid base64"},
		{"server not http", "87", key, []string{"ftp://a.example/verify"}, "not an http(s) URL"},
		{"server without host", "87", key, []string{"/verify"}, "not an http(s) URL"},
		{"server with query", "87", key, []string{"https://a.example/verify?id=1"}, "no credentials, query"},
		{"server with credentials", "87", key, []string{"https://u:p@a.example/verify"}, "no credentials, query"},
		{"server twice", "87", key, []string{"https://a.example/v", "https://a.example/v"}, "twice"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := NewClient(tt.id, tt.key, tt.servers)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				want, _ := base64.StdEncoding.DecodeString(key)
				if string(c.Key) != string(want) {
					t.Errorf("key %x", c.Key)
				}
				servers, err := c.check()
				if err != nil || (tt.servers == nil && (len(servers) != 1 || servers[0] != DefaultServer)) {
					t.Errorf("servers %v, %v", servers, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v; want %q", err, tt.want)
			}
			if tt.key != "" && strings.Contains(err.Error(), strings.TrimSpace(tt.key)) {
				t.Errorf("error quotes the key: %v", err)
			}
		})
	}
}

// Frozen vectors, computed by hand with
//
//	printf '%s' 'id=87&nonce=...&otp=...&timestamp=1' |
//	  openssl dgst -sha1 -mac HMAC -macopt hexkey:000102...13 -binary | base64
//
// so that the signing cannot drift along with the fake.
const (
	frozenKey   = "AAECAwQFBgcICQoLDA0ODxAREhM=" // bytes 0x00…0x13
	frozenNonce = "aef3a7835277a28da831005c2ae3b900"
	frozenOTP   = "vvvvvvcucrlcietctckflvnncdgckubflugerlnr"
	frozenH     = "C/i4yR+zDESyvJ3hiWHF8/8On+g="
	// Over nonce, otp, sessioncounter=19, sessionuse=17, sl=100, status=OK,
	// t=2019-06-06T05:14:43Z0102, timestamp=1234567.
	frozenAnswerH = "u5pDOZyzzfMZ3Jzzb5XXq1vTiY4="
)

func TestSignFrozen(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(frozenKey)
	got := sign(key, map[string]string{"timestamp": "1", "otp": frozenOTP, "id": "87", "nonce": frozenNonce})
	if got != frozenH {
		t.Errorf("sign = %s; want %s", got, frozenH)
	}
	answer := "h=" + frozenAnswerH + "\r\nt=2019-06-06T05:14:43Z0102\r\notp=" + frozenOTP + "\r\nnonce=" + frozenNonce +
		"\r\nsl=100\r\ntimestamp=1234567\r\nsessioncounter=19\r\nsessionuse=17\r\nstatus=OK\r\n\r\n"
	fields, err := parseAnswer([]byte(answer))
	if err != nil {
		t.Fatal(err)
	}
	if !verifyAnswer(key, fields) {
		t.Error("the frozen answer does not verify")
	}
	fields["sessionuse"] = "18"
	if verifyAnswer(key, fields) {
		t.Error("a changed answer verifies")
	}
}

// The request on the wire, with the nonce frozen: the signature is URL-
// encoded (it has '+', '/' and '='), and the fake accepts it.
func TestRequestFrozen(t *testing.T) {
	key, _ := base64.StdEncoding.DecodeString(frozenKey)
	fake := yubiotptest.NewServer(t, "87", key)
	fake.AddKey("vvvvvvcu")
	seen := make(chan string, 1)
	c, err := NewClient("87", frozenKey, []string{fake.URL})
	if err != nil {
		t.Fatal(err)
	}
	c.nonce = func() string { return frozenNonce }
	c.HTTP = &http.Client{Transport: roundTripper(func(r *http.Request) (*http.Response, error) {
		seen <- r.URL.RawQuery
		return http.DefaultTransport.RoundTrip(r)
	})}
	_, err = c.Verify(ctx(t), frozenOTP)
	const want = "h=C%2Fi4yR%2BzDESyvJ3hiWHF8%2F8On%2Bg%3D&id=87&nonce=" + frozenNonce + "&otp=" + frozenOTP + "&timestamp=1"
	if got := <-seen; got != want {
		t.Errorf("query\n %s\nwant\n %s", got, want)
	}
	// The fake accepted the signature (else it would answer
	// BAD_SIGNATURE) and never minted this OTP: BAD_OTP.
	if !errors.Is(err, ErrBadOTP) {
		t.Errorf("err = %v; want ErrBadOTP from the fake", err)
	}
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestNonce(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		n := newNonce()
		if len(n) != nonceLen || seen[n] {
			t.Fatalf("nonce %q", n)
		}
		for _, c := range n {
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9') {
				t.Fatalf("nonce %q", n)
			}
		}
		seen[n] = true
	}
}
