package apitypes_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
)

// The bodies the client sends encode as the server's handlers decode them
// (the server refuses unknown fields).
func TestRequestBodies(t *testing.T) {
	role, off := "ops", true
	for _, c := range []struct {
		v    any
		want string
	}{
		{apitypes.CreateUserRequest{Email: "a@example.com", Role: "ops"}, `{"email":"a@example.com","name":"","role":"ops"}`},
		{apitypes.UserChange{Role: &role}, `{"role":"ops"}`},
		{apitypes.UserChange{Disabled: &off}, `{"disabled":true}`},
		{apitypes.SetRackRoleRequest{Role: ""}, `{"role":""}`},
		{apitypes.TokenRequest{Name: "ci"}, `{"name":"ci"}`},
		{apitypes.TokenRequest{Name: "ci", Owner: "o@example.com", Permissions: []string{"app:read"}, ExpiresIn: "24h"},
			`{"name":"ci","owner":"o@example.com","permissions":["app:read"],"expires_in":"24h"}`},
		{apitypes.ClaimRequest{Request: "r", Verifier: "v"}, `{"request":"r","verifier":"v"}`},
		{apitypes.Error{Error: "no", Reason: "missing_permission"}, `{"error":"no","reason":"missing_permission"}`},
		{apitypes.RevokedSessions{Sessions: 2, Status: "revoked"}, `{"sessions":2,"status":"revoked"}`},
	} {
		b, err := json.Marshal(c.v)
		if err != nil || string(b) != c.want {
			t.Errorf("%T: %s (%v), want %s", c.v, b, err, c.want)
		}
	}
}

// Times are written as encoding/json writes a time.Time, in UTC.
func TestTime(t *testing.T) {
	paris := time.FixedZone("CET", 3600)
	for _, c := range []struct {
		in   time.Time
		want string
	}{
		{time.Time{}, ""},
		{time.Date(2026, 5, 1, 12, 4, 5, 0, paris), "2026-05-01T11:04:05Z"},
		{time.Date(2026, 5, 1, 11, 4, 5, 123456000, time.UTC), "2026-05-01T11:04:05.123456Z"},
	} {
		got := apitypes.Time(c.in)
		if got != c.want {
			t.Errorf("Time(%v) = %q, want %q", c.in, got, c.want)
		}
		if !c.in.IsZero() {
			b, _ := json.Marshal(c.in.UTC())
			if string(b) != `"`+got+`"` {
				t.Errorf("Time(%v) = %q, encoding/json writes %s", c.in, got, b)
			}
		}
	}
}
