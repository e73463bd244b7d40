package cli

import (
	"strings"
	"testing"
	"time"
)

// The API-backed admin commands against a real dev gateway, in CI mode
// (RACK_GATEWAY_URL + RACK_GATEWAY_TOKEN): the server decides who may do what.
func TestUsersSessionsTokensThroughGateway(t *testing.T) {
	data := t.TempDir()
	cancel, done, tokens, addr := startDev(t, data)
	defer func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("dev did not stop")
		}
	}()
	as := func(role string) map[string]string {
		return map[string]string{"RACK_GATEWAY_URL": "http://" + addr, "RACK_GATEWAY_TOKEN": tokens[role]}
	}
	steps := []struct {
		role     string
		args     []string
		code     int
		contains string
	}{
		{"admin", []string{"users"}, 0, "viewer@example.com"},
		{"admin", []string{"users", "add", "new@example.com", "--role", "ops", "--name", "New"}, 0, "added new@example.com as ops"},
		{"admin", []string{"users", "set-role", "new@example.com", "deployer"}, 0, "now deployer"},
		{"admin", []string{"users", "set-role", "new@example.com", "admin", "--on", "dev"}, 0, "on rack dev"},
		{"admin", []string{"users"}, 0, "dev=admin"},
		{"admin", []string{"users", "disable", "new@example.com"}, 0, "disabled new@example.com"},
		{"admin", []string{"users", "set-role", "nobody@example.com", "ops"}, 1, ""},
		{"admin", []string{"sessions", "--all"}, 0, "ID"},
		{"admin", []string{"sessions", "revoke-user", "viewer@example.com"}, 0, "revoked 0 session(s)"},
		{"admin", []string{"tokens", "--all"}, 0, "dev-viewer"},
		{"viewer", []string{"users"}, 1, ""},
		{"viewer", []string{"users", "set-role", "viewer@example.com", "admin"}, 1, ""},
		{"viewer", []string{"sessions", "--all"}, 1, ""},
		{"viewer", []string{"tokens", "--all"}, 1, ""},
		{"viewer", []string{"tokens"}, 0, "dev-viewer"},
		{"viewer", []string{"tokens", "create", "mine", "--permissions", "app:read", "--expires", "24h"}, 0, "rgw_"},
		{"viewer", []string{"tokens", "create", "too-much", "--permissions", "env:read"}, 1, ""},
		{"viewer", []string{"users", "frobnicate"}, 2, ""},
	}
	for _, s := range steps {
		code, out, errs := run(t, as(s.role), s.args...)
		if code != s.code || !strings.Contains(out, s.contains) {
			t.Errorf("%s: rack-gateway %s = %d\nstdout: %s\nstderr: %s", s.role, strings.Join(s.args, " "), code, out, errs)
		}
		if s.code == 1 && strings.Count(strings.TrimSpace(errs), "\n") > 0 {
			t.Errorf("%s %v: refusal is not one line: %q", s.role, s.args, errs)
		}
	}
	// The refusal names the missing permission.
	if _, _, errs := run(t, as("viewer"), "users"); !strings.Contains(errs, "gateway:users") && !strings.Contains(errs, "permission") {
		t.Errorf("viewer users refusal: %q", errs)
	}
}
