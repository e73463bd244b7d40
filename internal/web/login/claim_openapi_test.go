package login

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/web/openapi/openapitest"
)

// The CLI login claim answers as openapi.yaml says, refusals in the admin
// API's one error shape: unknown request, wrong media type, malformed and
// oversized bodies, a pending login, a wrong verifier, the session, a
// replay.
func TestClaimMatchesOpenAPI(t *testing.T) {
	e := newEnv(t, envOpts{})
	c := openapitest.New(t)
	claim := func(ctype, body string, want int) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, e.srv.URL+"/api/v1/cli/login/claim", bytes.NewReader([]byte(body)))
		req.Header.Set("Content-Type", ctype)
		if status, _, b := c.Do(t, http.DefaultClient, req); status != want {
			t.Fatalf("claim %s %.80s: %d %s, want %d", ctype, body, status, b, want)
		}
	}
	R, V, C := cliPair(t)
	_, otherV, _ := cliPair(t)
	good := `{"request":"` + R + `","verifier":"` + V + `"}`
	claim("application/json", good, http.StatusNotFound)
	claim("text/plain", good, http.StatusUnsupportedMediaType)
	claim("application/json", `{"request":`, http.StatusBadRequest)
	claim("application/json", `{"request":"`+strings.Repeat("a", 9<<10)+`"}`, http.StatusRequestEntityTooLarge)

	b := e.browser()
	params := url.Values{"request": {R}, "challenge": {C}, "name": {"prod"}, "login_hint": {"deployer@example.com"}}
	if r := get(t, b, e.srv.URL+"/auth/cli?"+params.Encode()); r.status != http.StatusOK {
		t.Fatalf("GET /auth/cli: %d %s", r.status, r.body)
	}
	r := postForm(t, b, e.srv.URL+"/auth/cli", params, map[string]string{"Origin": e.srv.URL, "Sec-Fetch-Site": "same-origin"})
	if r.status != http.StatusSeeOther {
		t.Fatalf("POST /auth/cli: %d %s", r.status, r.body)
	}
	claim("application/json", good, http.StatusAccepted)
	claim("application/json", `{"request":"`+R+`","verifier":"`+otherV+`"}`, http.StatusForbidden)
	authURL, _ := url.Parse(r.location)
	if cb := get(t, b, e.authorize(b, authURL)); cb.status != 200 {
		t.Fatalf("callback: %d %s", cb.status, cb.body)
	}
	claim("application/json", good, http.StatusOK)
	claim("application/json", good, http.StatusConflict)
	if un := c.Seen("POST /api/v1/cli/login/claim"); len(un) != 8 {
		t.Errorf("claim statuses checked: %v", un)
	}
}
