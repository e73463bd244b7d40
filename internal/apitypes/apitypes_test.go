package apitypes_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/web/login"
)

// Some bodies are still declared by the server packages that produce them
// (admin's views, the login claim). Until those become aliases of these
// types, their JSON shape (names, options, order, types) must be the same,
// or the client would silently miss fields.
func TestServerTypesHaveTheSharedShape(t *testing.T) {
	pairs := []struct{ server, shared any }{
		{admin.UserView{}, apitypes.User{}},
		{admin.UserChange{}, apitypes.UserChange{}},
		{admin.SessionView{}, apitypes.Session{}},
		{admin.TokenView{}, apitypes.Token{}},
		{admin.TokenRequest{}, apitypes.TokenRequest{}},
		{admin.CreatedToken{}, apitypes.CreatedToken{}},
		{login.ClaimRequest{}, apitypes.ClaimRequest{}},
		{login.ClaimResponse{}, apitypes.ClaimResponse{}},
	}
	for _, p := range pairs {
		st, sh := reflect.TypeOf(p.server), reflect.TypeOf(p.shared)
		if a, b := shape(st), shape(sh); a != b {
			t.Errorf("%v and %v differ on the wire:\n  %s\n  %s", st, sh, a, b)
		}
	}
}

// shape is the JSON shape of t: field names with their options, in order,
// and their shapes.
func shape(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return "*" + shape(t.Elem())
	case reflect.Slice:
		return "[]" + shape(t.Elem())
	case reflect.Map:
		return "map[" + shape(t.Key()) + "]" + shape(t.Elem())
	case reflect.Struct:
		var fs []string
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			if name, _, _ := strings.Cut(tag, ","); name == "" {
				tag = f.Name + tag
			}
			fs = append(fs, tag+" "+shape(f.Type))
		}
		return "{" + strings.Join(fs, "; ") + "}"
	}
	return t.Kind().String()
}

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
