package storetest

import (
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/clock"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

var roleBindingTests = []subtest{
	{"RoleBindings/Upsert", testRoleBindingUpsert},
	{"RoleBindings/Errors", testRoleBindingErrors},
}

func testRoleBindingUpsert(t *testing.T, s store.Store, clk *clock.Fake) {
	u := mustUser(t, s, "carol@example.com", "viewer")
	other := mustUser(t, s, "dan@example.com", "viewer")
	must(t, "other's binding", s.SetRoleBinding(ctx(t), store.RoleBinding{UserID: other.ID, Rack: "prod", Role: "admin"}))

	rb := func(rack, role string) store.RoleBinding {
		return store.RoleBinding{UserID: u.ID, Rack: rack, Role: role}
	}
	steps := []struct {
		name string
		set  store.RoleBinding
		want []store.RoleBinding // after the step, ordered by rack
	}{
		{"create", store.RoleBinding{UserID: u.ID, Rack: "staging", Role: "deployer"},
			[]store.RoleBinding{rb("staging", "deployer")}},
		{"second rack", store.RoleBinding{UserID: u.ID, Rack: "prod", Role: "ops"},
			[]store.RoleBinding{rb("prod", "ops"), rb("staging", "deployer")}},
		{"replace", store.RoleBinding{UserID: u.ID, Rack: "staging", Role: "admin"},
			[]store.RoleBinding{rb("prod", "ops"), rb("staging", "admin")}},
		{"same again", store.RoleBinding{UserID: u.ID, Rack: "staging", Role: "admin"},
			[]store.RoleBinding{rb("prod", "ops"), rb("staging", "admin")}},
		{"delete", store.RoleBinding{UserID: u.ID, Rack: "prod"},
			[]store.RoleBinding{rb("staging", "admin")}},
		{"delete missing", store.RoleBinding{UserID: u.ID, Rack: "nowhere"},
			[]store.RoleBinding{rb("staging", "admin")}},
		{"delete last", store.RoleBinding{UserID: u.ID, Rack: "staging"}, nil},
	}
	for _, st := range steps {
		must(t, st.name, s.SetRoleBinding(ctx(t), st.set))
		got, err := s.ListRoleBindings(ctx(t), u.ID)
		must(t, st.name+": list", err)
		if len(got) != len(st.want) {
			t.Fatalf("%s: bindings %+v, want %+v", st.name, got, st.want)
		}
		for i := range got {
			if got[i] != st.want[i] {
				t.Fatalf("%s: bindings %+v, want %+v", st.name, got, st.want)
			}
		}
	}
	got, err := s.ListRoleBindings(ctx(t), other.ID)
	must(t, "other's list", err)
	if len(got) != 1 || got[0] != (store.RoleBinding{UserID: other.ID, Rack: "prod", Role: "admin"}) {
		t.Fatalf("other user's bindings changed: %+v", got)
	}
}

func testRoleBindingErrors(t *testing.T, s store.Store, clk *clock.Fake) {
	err := s.SetRoleBinding(ctx(t), store.RoleBinding{UserID: 987654, Rack: "prod", Role: "admin"})
	wantErr(t, "binding for a missing user", err, store.ErrNotFound)
	got, err := s.ListRoleBindings(ctx(t), 987654)
	must(t, "list for a missing user", err)
	if len(got) != 0 {
		t.Fatalf("missing user has bindings %+v", got)
	}
	u := mustUser(t, s, "gus@example.com", "viewer")
	if err := s.SetRoleBinding(ctx(t), store.RoleBinding{UserID: u.ID, Role: "admin"}); err == nil {
		t.Error("binding without a rack succeeded")
	}
}
