package gateway_test

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/web/openapi/openapitest"
)

// Every admin API operation, driven through the real gateway (MFA and
// deploy approvals in force) with successes and typical refusals: each
// answer is validated against openapi.yaml (status, body schema with no
// unknown fields), has no Go-style key, writes times in RFC 3339 UTC, and
// every refusal has the one error shape with its request id. Every
// documented operation must have been answered (the CLI login claim is
// driven in internal/web/login, where an identity provider is set up).
func TestAdminAPIMatchesOpenAPI(t *testing.T) {
	e := newApprovalEnv(t, 1)
	c := openapitest.New(t)
	adminTok, viewerTok, ci := e.tokens[authz.RoleAdmin], e.tokens[authz.RoleViewer], e.tokens[authz.RoleDeployer]
	adminSess, _ := e.session(authz.RoleAdmin, true)
	viewerSess, _ := e.session(authz.RoleViewer, true)
	otp := func(role string) string { return e.yubico.OTP(keyOf(role)) }

	// call sends one request (Bearer), checks the answer and its status.
	call := func(method, path, token, code, body string, want int) []byte {
		t.Helper()
		var req *http.Request
		if body != "" {
			req, _ = http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req, _ = http.NewRequest(method, e.srv.URL+path, nil)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		if code != "" {
			req.Header.Set(apitypes.HeaderMFACode, code)
		}
		status, _, b := c.Do(t, http.DefaultClient, req)
		if status != want {
			t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
		}
		return b
	}
	id := func(b []byte, field ...string) string {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		for _, f := range field[:len(field)-1] {
			v, _ = v[f].(map[string]any)
		}
		switch x := v[field[len(field)-1]].(type) {
		case float64:
			return strconv.FormatInt(int64(x), 10)
		case string:
			return x
		}
		t.Fatalf("no %v in %s", field, b)
		return ""
	}

	call("GET", "/api/v1/openapi.yaml", "", "", "", 200)
	call("GET", "/api/v1/openapi.json", "", "", "", 200)

	call("GET", "/api/v1/me", adminTok, "", "", 200)
	call("GET", "/api/v1/me", adminSess, "", "", 200)
	call("GET", "/api/v1/me", "", "", "", 401)
	call("GET", "/api/v1/roles", viewerTok, "", "", 200)

	// Users.
	call("POST", "/api/v1/users", adminTok, "", `{"email":"new@example.com","name":"New","role":"ops"}`, 201)
	call("POST", "/api/v1/users", adminTok, "", `{"email":"new@example.com","name":"New","role":"ops"}`, 409)
	call("POST", "/api/v1/users", adminTok, "", `{"email":"x@example.com","role":"ops","Role":"admin"}`, 400)
	call("POST", "/api/v1/users", viewerTok, "", `{"email":"y@example.com","role":"admin"}`, 403)
	call("PATCH", "/api/v1/users/new@example.com", adminTok, "", `{"name":"Newer","disabled":false}`, 200)
	call("PATCH", "/api/v1/users/nobody@example.com", adminTok, "", `{"name":"X"}`, 404)
	call("PUT", "/api/v1/users/new@example.com/racks/dev", adminTok, "", `{"role":"deployer"}`, 200)
	call("PUT", "/api/v1/users/new@example.com/racks/dev", adminTok, "", `{"role":"emperor"}`, 400)
	if b := call("GET", "/api/v1/users", adminTok, "", "", 200); !strings.Contains(string(b), `"rack_roles"`) {
		t.Errorf("users list without the rack role just set: %s", b)
	}
	call("GET", "/api/v1/users", viewerTok, "", "", 403)
	// A person's session needs a fresh second factor for user administration.
	call("PATCH", "/api/v1/users/new@example.com", adminSess, "", `{"name":"Again"}`, 200)

	// Tokens.
	created := call("POST", "/api/v1/tokens", adminTok, "", `{"name":"conformance","permissions":["app:read"],"expires_in":"24h"}`, 201)
	tokID := id(created, "detail", "id")
	call("POST", "/api/v1/tokens", viewerTok, "", `{"name":"wide","permissions":["env:set"]}`, 403)
	call("GET", "/api/v1/tokens", adminTok, "", "", 200)
	call("GET", "/api/v1/tokens?all=1", adminTok, "", "", 200)
	call("DELETE", "/api/v1/tokens/"+tokID, adminTok, "", "", 200)
	call("DELETE", "/api/v1/tokens/abc", adminTok, "", "", 400)

	// Sessions.
	if b := call("GET", "/api/v1/sessions", adminSess, "", "", 200); !strings.Contains(string(b), `"current": true`) {
		t.Errorf("own sessions without the current one: %s", b)
	}
	call("GET", "/api/v1/sessions?user=*", adminTok, "", "", 200)
	call("GET", "/api/v1/sessions?user=*", viewerTok, "", "", 403)
	_, spareRow := e.session(authz.RoleOps, false)
	call("DELETE", "/api/v1/sessions/"+strconv.FormatInt(spareRow.ID, 10), adminTok, "", "", 200)
	call("DELETE", "/api/v1/sessions/x", adminTok, "", "", 400)
	call("DELETE", "/api/v1/users/ops@example.com/sessions", adminTok, "", "", 200)

	// Second factors: a person's own, and an admin's view of others'.
	call("GET", "/api/v1/mfa", adminSess, "", "", 200)
	call("POST", "/api/v1/mfa/verify", adminSess, "", `{"code":"`+otp(authz.RoleAdmin)+`"}`, 201)
	call("POST", "/api/v1/mfa/verify", adminSess, "", `{"code":"cccccccccccfnotanotp"}`, 401)
	browser := call("POST", "/api/v1/mfa/browser", adminSess, "", "", 201)
	call("GET", "/api/v1/mfa/browser/"+id(browser, "id"), adminSess, "", "", 200)
	call("GET", "/api/v1/mfa/browser/"+id(browser, "id"), viewerSess, "", "", 400)
	call("GET", "/api/v1/users/viewer@example.com/mfa", adminTok, "", "", 200)
	call("GET", "/api/v1/users/viewer@example.com/mfa", viewerTok, "", "", 403)
	call("POST", "/api/v1/users/viewer@example.com/mfa/unlock", adminTok, "", "", 201)
	call("DELETE", "/api/v1/users/viewer@example.com/mfa", adminTok, "", "", 200)

	// Deploy approvals: a CI token asks, a person decides with a factor.
	in := `{"rack":"dev","app":"myapp","commit":"` + approvedCommit + `","branch":"main","pr_url":"https://github.com/o/r/pull/7"}`
	first := call("POST", "/api/v1/deploy-approvals", ci, "", in, 201)
	second := call("POST", "/api/v1/deploy-approvals", ci, "", in, 201)
	call("POST", "/api/v1/deploy-approvals", ci, "", `{"rack":"dev","app":"myapp","commit":"nope"}`, 400)
	call("GET", "/api/v1/deploy-approvals", adminTok, "", "", 200)
	call("GET", "/api/v1/deploy-approvals?status=pending&rack=dev&app=myapp&limit=5", adminTok, "", "", 200)
	call("GET", "/api/v1/deploy-approvals?status=maybe", adminTok, "", "", 400)
	call("GET", "/api/v1/deploy-approvals/"+id(first, "id"), ci, "", "", 200)
	call("GET", "/api/v1/deploy-approvals/999999", adminTok, "", "", 404)
	call("POST", "/api/v1/deploy-approvals/"+id(first, "id")+"/approve", adminSess, "", "", 403) // no factor on the call
	if b := call("POST", "/api/v1/deploy-approvals/"+id(first, "id")+"/approve", adminSess, otp(authz.RoleAdmin),
		`{"comment":"ship it"}`, 201); !strings.Contains(string(b), `"approvals": [`) {
		t.Errorf("approved request without its approvals: %s", b)
	}
	call("POST", "/api/v1/deploy-approvals/"+id(second, "id")+"/reject", adminSess, otp(authz.RoleAdmin), `{"comment":"not today"}`, 201)
	call("POST", "/api/v1/deploy-approvals/"+id(second, "id")+"/reject", adminSess, otp(authz.RoleAdmin), "", 409)

	// The audit log, last: it now holds events of all of the above.
	call("GET", "/api/v1/audit?limit=1000", adminTok, "", "", 200)
	call("GET", "/api/v1/audit?decision=deny&limit=5", adminTok, "", "", 200)
	call("GET", "/api/v1/audit?since=yesterday", adminTok, "", "", 400)
	call("GET", "/api/v1/audit", viewerTok, "", "", 403)
	call("GET", "/api/v1/audit/export?format=csv", adminTok, "", "", 200)
	call("GET", "/api/v1/audit/export", adminTok, "", "", 200)
	call("GET", "/api/v1/audit/export?format=xml", adminTok, "", "", 400)

	if un := c.Unseen("POST /api/v1/cli/login/claim"); len(un) > 0 {
		t.Errorf("operations no answer was checked for: %v", un)
	}
}
