package authz

import (
	"os"
	"strings"
	"testing"
	"time"
)

// expected derives the answer from the role data directly (grants plus the
// chain of extended roles), independently of the precomputed sets.
func expected(role string, p Permission) bool {
	for role != "" {
		var def *RoleDef
		for i := range roles {
			if roles[i].Name == role {
				def = &roles[i]
			}
		}
		if def == nil {
			return false
		}
		for _, g := range def.Grants {
			if g == p {
				return true
			}
		}
		role = def.Extends
	}
	return false
}

func TestDecideMatrixUsers(t *testing.T) {
	for _, r := range Roles() {
		p := &Principal{Kind: KindUser, UserID: 1, Email: "u@example.com", Role: r.Name}
		for _, perm := range All() {
			d := (&Policy{}).Decide(Request{Principal: p, Permission: perm, Rack: "prod"})
			if d.Allow != expected(r.Name, perm) {
				t.Errorf("role %s perm %s: allow=%v want %v", r.Name, perm, d.Allow, !d.Allow)
			}
			if d.Allow && d.Reason != ReasonAllowed || !d.Allow && d.Reason != ReasonMissingPermission {
				t.Errorf("role %s perm %s: reason %s", r.Name, perm, d.Reason)
			}
		}
	}
}

func TestRolesNest(t *testing.T) {
	chain := []string{RoleViewer, RoleOps, RoleDeployer, RoleAdmin}
	for i := 1; i < len(chain); i++ {
		lo, _ := RolePermissions(chain[i-1])
		hi, _ := RolePermissions(chain[i])
		if !lo.SubsetOf(hi) || lo == hi {
			t.Errorf("%s must be a strict subset of %s", chain[i-1], chain[i])
		}
	}
	admin, _ := RolePermissions(RoleAdmin)
	for _, p := range All() {
		if !admin.Has(p) {
			t.Errorf("admin lacks %s", p)
		}
	}
}

func TestSensitiveReadsAreNotPlainReads(t *testing.T) {
	viewer, _ := RolePermissions(RoleViewer)
	for _, p := range []Permission{EnvRead, SecretRead, ResourceCredentials, RegistryRead, ConfigRead,
		ResourceExport, FilesRead, BuildExport, ObjectRead, RackJWTToken, RackJWTRotate} {
		if viewer.Has(p) {
			t.Errorf("viewer must not have %s", p)
		}
	}
	deployer, _ := RolePermissions(RoleDeployer)
	for _, p := range []Permission{RackJWTToken, RackJWTRotate, SecretRead, EnvProtected, GatewayUsers, AppCreate, AppDelete} {
		if deployer.Has(p) {
			t.Errorf("deployer must not have %s", p)
		}
	}
}

func TestDecideTokenScope(t *testing.T) {
	scope := NewSet(AppRead, LogRead, RackJWTToken) // RackJWTToken exceeds a deployer
	p := &Principal{Kind: KindToken, UserID: 2, Role: RoleDeployer, TokenID: 9, TokenPerms: scope}
	for _, perm := range All() {
		d := (&Policy{}).Decide(Request{Principal: p, Permission: perm})
		want := expected(RoleDeployer, perm) && scope.Has(perm)
		if d.Allow != want {
			t.Errorf("token perm %s: allow=%v want %v", perm, d.Allow, want)
		}
		if !d.Allow && expected(RoleDeployer, perm) && d.Reason != ReasonTokenScope {
			t.Errorf("token perm %s: reason %s, want token_scope", perm, d.Reason)
		}
	}
}

func TestDecideEdgeCases(t *testing.T) {
	cases := []struct {
		name   string
		p      *Principal
		perm   Permission
		rack   string
		allow  bool
		reason Reason
	}{
		{"nil principal", nil, AppRead, "", false, ReasonUnauthenticated},
		{"disabled admin", &Principal{Kind: KindUser, Role: RoleAdmin, Disabled: true}, AppRead, "", false, ReasonUserDisabled},
		{"unknown role", &Principal{Kind: KindUser, Role: "root"}, AppRead, "", false, ReasonUnknownRole},
		{"empty role", &Principal{Kind: KindUser}, AppRead, "", false, ReasonUnknownRole},
		{"rack binding raises", &Principal{Kind: KindUser, Role: RoleViewer, RackRole: map[string]string{"staging": RoleDeployer}}, EnvSet, "staging", true, ReasonAllowed},
		{"rack binding elsewhere", &Principal{Kind: KindUser, Role: RoleViewer, RackRole: map[string]string{"staging": RoleDeployer}}, EnvSet, "prod", false, ReasonMissingPermission},
		{"rack binding lowers", &Principal{Kind: KindUser, Role: RoleAdmin, RackRole: map[string]string{"prod": RoleViewer}}, AppDelete, "prod", false, ReasonMissingPermission},
		{"unknown permission", &Principal{Kind: KindUser, Role: RoleAdmin}, Permission("app:everything"), "", false, ReasonMissingPermission},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := (&Policy{}).Decide(Request{Principal: c.p, Permission: c.perm, Rack: c.rack})
			if d.Allow != c.allow || d.Reason != c.reason {
				t.Fatalf("got %v/%s, want %v/%s", d.Allow, d.Reason, c.allow, c.reason)
			}
		})
	}
}

func TestParseSet(t *testing.T) {
	s, err := ParseSet([]string{"app:read", " log:read"})
	if err != nil || !s.Has(AppRead) || !s.Has(LogRead) || s.Has(EnvRead) {
		t.Fatalf("ParseSet: %v %v", s, err)
	}
	if _, err := ParseSet([]string{"app:read", "app:rule"}); err == nil {
		t.Fatal("unknown permission accepted")
	}
}

// docs/permissions.md's matrix must be the one the role data produces.
func TestDocsMatrixInSync(t *testing.T) {
	b, err := os.ReadFile("../../docs/permissions.md")
	if err != nil {
		t.Fatalf("read docs/permissions.md: %v", err)
	}
	const begin, end = "<!-- role-matrix:begin -->\n", "<!-- role-matrix:end -->"
	s := string(b)
	i, j := strings.Index(s, begin), strings.Index(s, end)
	if i < 0 || j < i {
		t.Fatalf("docs/permissions.md lacks the %q … %q markers", strings.TrimSpace(begin), end)
	}
	if got, want := s[i+len(begin):j], MatrixMarkdown(); got != want {
		t.Fatalf("docs/permissions.md role matrix is out of date; replace it with:\n%s", want)
	}
}

func BenchmarkDecide(b *testing.B) {
	p := &Principal{Kind: KindToken, Role: RoleDeployer, TokenPerms: NewSet(AppRead, ProcessExec)}
	pol := &Policy{StepUp: true, StepUpWindow: 10 * time.Minute}
	q := Request{Principal: p, Permission: ProcessExec, Rack: "prod", Now: time.Unix(1e9, 0)}
	b.ReportAllocs()
	for b.Loop() {
		if !pol.Decide(q).Allow {
			b.Fatal("denied")
		}
	}
}
