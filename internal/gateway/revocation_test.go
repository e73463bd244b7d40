package gateway_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/testutil"
)

// openShell starts an interactive shell through the gateway and checks
// that it answers.
func openShell(t *testing.T, e *testEnv, token string) *websocket.Conn {
	t.Helper()
	c, resp, err := e.dialWS("/rack/apps/myapp/processes/"+testPID+"/exec", token,
		http.Header{"Command": {"sh"}, "Tty": {"false"}})
	if err != nil {
		t.Fatalf("exec: %v (%v)", err, resp)
	}
	t.Cleanup(func() { c.Close() })
	if !shellAnswers(c) {
		t.Fatal("the shell does not answer")
	}
	return c
}

// shellAnswers runs echo in the shell and reports whether its output came
// back; false once the socket is closed.
func shellAnswers(c *websocket.Conn) bool {
	if err := c.WriteMessage(websocket.TextMessage, []byte("echo still-here\n")); err != nil {
		return false
	}
	_ = c.SetReadDeadline(time.Now().Add(testutil.Patience))
	var out []byte
	for !strings.Contains(string(out), "still-here") {
		_, b, err := c.ReadMessage()
		if err != nil {
			return false
		}
		out = append(out, b...)
	}
	return true
}

// socketClosed waits until the peer closes c.
func socketClosed(t *testing.T, c *websocket.Conn) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(testutil.Patience))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
				t.Fatal("the stream was not cut")
			}
			return
		}
	}
}

// cutEvents returns the audited cuts of streams.
func cutEvents(e *testEnv) map[string]string {
	out := map[string]string{} // actor → reason
	for _, ev := range e.audit() {
		var d map[string]any
		_ = json.Unmarshal([]byte(ev.Details), &d)
		if d["phase"] == "cut" {
			out[ev.Actor] = ev.Reason
		}
	}
	return out
}

// Revoking a token or a session, disabling a user or lowering a role ends
// that principal's open websockets: at once when the change is made
// through this gateway, and at the next recheck when another replica made
// it in the shared database. Each cut is audited; other streams go on.
func TestRevocationEndsLiveStreams(t *testing.T) {
	ctx := context.Background()
	sys := admin.Actor{System: "test"}
	t.Run("token revoked here", func(t *testing.T) {
		e := newEnv(t)
		tok := e.token(authz.RoleOps, authz.ProcessExec)
		bystander := openShell(t, e, e.tokens[authz.RoleAdmin])
		c := openShell(t, e, tok)
		id := tokenIDByName(t, e, "scoped-ops")
		if status, body := e.api("DELETE", fmt.Sprintf("/api/v1/tokens/%d", id), e.tokens[authz.RoleAdmin], ""); status != 200 {
			t.Fatalf("revoke: %d %s", status, body)
		}
		socketClosed(t, c) // no explicit recheck: the change here kicked one
		if !shellAnswers(bystander) {
			t.Error("another caller's stream was cut")
		}
		if got := cutEvents(e)["ops@example.com"]; got != string(authz.ReasonTokenRevoked) {
			t.Errorf("cut audited with %q, want token_revoked", got)
		}
	})
	t.Run("token revoked by another replica", func(t *testing.T) {
		// No scheduled recheck during the test: it calls one itself.
		e := newEnv(t, func(c *configT) { c.StreamRecheckInterval = configDuration(time.Hour) })
		tok := e.token(authz.RoleOps, authz.ProcessExec)
		c := openShell(t, e, tok)
		if n := e.gw.Proxy.RecheckStreams(ctx); n != 0 {
			t.Fatalf("a recheck with nothing revoked cut %d streams", n)
		}
		if !shellAnswers(c) {
			t.Fatal("a recheck cut a stream whose access stands")
		}
		// Another replica revokes it in the shared database: nothing here
		// is told, so the cache would still say yes.
		if err := e.st.RevokeToken(ctx, tokenIDByName(t, e, "scoped-ops"), time.Time{}); err != nil {
			t.Fatal(err)
		}
		if n := e.gw.Proxy.RecheckStreams(ctx); n != 1 {
			t.Fatalf("recheck cut %d streams, want 1", n)
		}
		socketClosed(t, c)
	})
	t.Run("user disabled: follow-mode logs", func(t *testing.T) {
		e := newEnv(t)
		c, _, err := e.dialWS("/rack/apps/myapp/logs", e.tokens[authz.RoleViewer], http.Header{"Follow": {"true"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, _, err := c.ReadMessage(); err != nil { // logs are flowing
			t.Fatal(err)
		}
		disabled := true
		if _, err := e.gw.Admin.UpdateUser(ctx, sys, "viewer@example.com", admin.UserChange{Disabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		socketClosed(t, c)
		if got := cutEvents(e)["viewer@example.com"]; got != string(authz.ReasonUserDisabled) {
			t.Errorf("cut audited with %q, want user_disabled", got)
		}
	})
	t.Run("role lowered", func(t *testing.T) {
		e := newEnv(t)
		c := openShell(t, e, e.tokens[authz.RoleOps])
		role := authz.RoleViewer
		if _, err := e.gw.Admin.UpdateUser(ctx, sys, "ops@example.com", admin.UserChange{Role: &role}); err != nil {
			t.Fatal(err)
		}
		socketClosed(t, c)
		if got := cutEvents(e)["ops@example.com"]; got != string(authz.ReasonMissingPermission) {
			t.Errorf("cut audited with %q, want missing_permission", got)
		}
	})
}

func tokenIDByName(t *testing.T, e *testEnv, name string) int64 {
	t.Helper()
	toks, err := e.st.ListTokens(context.Background(), 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, tk := range toks {
		if tk.Name == name {
			return tk.ID
		}
	}
	t.Fatalf("no token %q", name)
	return 0
}

func configDuration(d time.Duration) config.Duration { return config.Duration(d) }
