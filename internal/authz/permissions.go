// Package authz holds the gateway's one authorization policy: the
// permissions, the built-in roles as data, and Decide, the single function
// that allows or denies every proxied rack call and every gateway admin call.
package authz

import (
	"fmt"
	"strings"
)

// Permission is a "resource:action" capability, e.g. "app:read".
type Permission string

// Permissions on the rack API. Reads that expose secrets or bulk data are
// permissions of their own, never implied by a plain read.
const (
	AppRead    Permission = "app:read"
	AppCreate  Permission = "app:create"
	AppUpdate  Permission = "app:update" // app parameters and lock
	AppDelete  Permission = "app:delete"
	AppCancel  Permission = "app:cancel" // cancel a deployment in progress
	AppBudget  Permission = "app:budget" // change or reset cost budgets
	ConfigRead Permission = "config:read"
	ConfigSet  Permission = "config:set"

	ServiceRead    Permission = "service:read"
	ServiceScale   Permission = "service:scale"
	ServiceRestart Permission = "service:restart"

	ProcessRead Permission = "process:read"
	ProcessStop Permission = "process:stop"
	ProcessExec Permission = "process:exec"
	ProcessRun  Permission = "process:run"
	FilesRead   Permission = "files:read" // container file download
	FilesWrite  Permission = "files:write"

	LogRead Permission = "log:read"

	BuildRead   Permission = "build:read"
	BuildCreate Permission = "build:create"
	BuildExport Permission = "build:export" // build tarball download
	BuildUpdate Permission = "build:update" // used by in-cluster build pods only

	ObjectList   Permission = "object:list"
	ObjectRead   Permission = "object:read" // object download
	ObjectWrite  Permission = "object:write"
	ObjectDelete Permission = "object:delete"

	ReleaseRead    Permission = "release:read" // release metadata, env removed
	ReleaseCreate  Permission = "release:create"
	ReleasePromote Permission = "release:promote"

	EnvRead      Permission = "env:read"      // env with secret values masked
	EnvSet       Permission = "env:set"       // change env (not protected keys)
	EnvProtected Permission = "env:protected" // change protected keys
	SecretRead   Permission = "secret:read"   // unmasked secret values everywhere

	ResourceRead        Permission = "resource:read" // metadata; credentials in URLs masked
	ResourceCredentials Permission = "resource:credentials"
	ResourceCreate      Permission = "resource:create"
	ResourceUpdate      Permission = "resource:update"
	ResourceDelete      Permission = "resource:delete"
	ResourceLink        Permission = "resource:link"
	ResourceExport      Permission = "resource:export" // database dump
	ResourceImport      Permission = "resource:import"
	ResourceConsole     Permission = "resource:console"

	InstanceRead      Permission = "instance:read"
	InstanceTerminate Permission = "instance:terminate"
	InstanceKeyroll   Permission = "instance:keyroll"
	InstanceShell     Permission = "instance:shell"

	RackRead      Permission = "rack:read"
	RackUpdate    Permission = "rack:update"
	RackJWTToken  Permission = "rack:jwt-token"  // mints rack credentials that bypass the gateway
	RackJWTRotate Permission = "rack:jwt-rotate" // voids every rack JWT
	RackProxy     Permission = "rack:proxy"      // TCP tunnels into the cluster
	RackHTTPProxy Permission = "rack:http-proxy"
	RackEvents    Permission = "rack:events"

	CertRead  Permission = "cert:read"
	CertWrite Permission = "cert:write"

	RegistryRead  Permission = "registry:read" // lists registries; passwords need secret:read
	RegistryWrite Permission = "registry:write"
	RegistryPull  Permission = "registry:pull"
	RegistryPush  Permission = "registry:push"
)

// Permissions on the gateway itself.
const (
	TokenSelf Permission = "gateway:token-self" // list and revoke one's own API tokens
	// TokenCreate is minting an API token for oneself: a new credential,
	// so people need a recent second factor for it (listing and revoking
	// stay free).
	TokenCreate    Permission = "gateway:token-create"
	GatewayUsers   Permission = "gateway:users"  // administer users and their sessions
	GatewayTokens  Permission = "gateway:tokens" // administer everyone's API tokens
	GatewayAudit   Permission = "gateway:audit"  // read the audit log
	GatewaySummary Permission = "gateway:whoami" // see one's own identity
	// MFASelf is adding a further second factor, removing one, or
	// regenerating backup codes, for oneself. (Enrolling a first factor
	// needs only a session: there is nothing to step up with yet.)
	MFASelf Permission = "gateway:mfa-self"
)

// Permissions on deploy approvals (two-person rule for CI deploys).
const (
	// DeployRequest is a CI token asking people to approve one deploy.
	DeployRequest Permission = "deploy:request"
	// DeployApprove is approving or rejecting someone else's request, when
	// the rack and app's approval policy names the person or their role.
	DeployApprove Permission = "deploy:approve"
	// DeployRead is reading the approval queue and its requests.
	DeployRead Permission = "deploy:read"
)

// All returns every permission in a stable order: the universe for tests,
// the role matrix (docs/permissions.md) and token scopes that follow their owner's role. The
// slice is a copy.
func All() []Permission { return append([]Permission(nil), all...) }

// Universe is the set of every permission.
func Universe() Set { return universe }

var all = []Permission{
	AppRead, AppCreate, AppUpdate, AppDelete, AppCancel, AppBudget, ConfigRead, ConfigSet,
	ServiceRead, ServiceScale, ServiceRestart,
	ProcessRead, ProcessStop, ProcessExec, ProcessRun, FilesRead, FilesWrite,
	LogRead,
	BuildRead, BuildCreate, BuildExport, BuildUpdate,
	ObjectList, ObjectRead, ObjectWrite, ObjectDelete,
	ReleaseRead, ReleaseCreate, ReleasePromote,
	EnvRead, EnvSet, EnvProtected, SecretRead,
	ResourceRead, ResourceCredentials, ResourceCreate, ResourceUpdate, ResourceDelete, ResourceLink,
	ResourceExport, ResourceImport, ResourceConsole,
	InstanceRead, InstanceTerminate, InstanceKeyroll, InstanceShell,
	RackRead, RackUpdate, RackJWTToken, RackJWTRotate, RackProxy, RackHTTPProxy, RackEvents,
	CertRead, CertWrite,
	RegistryRead, RegistryWrite, RegistryPull, RegistryPush,
	TokenSelf, TokenCreate, GatewayUsers, GatewayTokens, GatewayAudit, GatewaySummary, MFASelf,
	DeployRequest, DeployApprove, DeployRead,
}

var permIndex = func() map[Permission]int {
	m := make(map[Permission]int, len(all))
	for i, p := range all {
		if _, dup := m[p]; dup {
			panic("authz: duplicate permission " + string(p))
		}
		m[p] = i
	}
	if len(all) > 128 {
		panic("authz: Set holds at most 128 permissions")
	}
	return m
}()

var universe = NewSet(all...)

// Valid reports whether p is a known permission.
func (p Permission) Valid() bool { _, ok := permIndex[p]; return ok }

// ParsePermission validates a permission name.
func ParsePermission(s string) (Permission, error) {
	p := Permission(strings.TrimSpace(s))
	if !p.Valid() {
		return "", fmt.Errorf("unknown permission %q", s)
	}
	return p, nil
}

// Set is an immutable-by-convention bit set of permissions; checking
// membership costs no allocation, which keeps Decide cheap on the hot path.
type Set [2]uint64

// NewSet builds a set; unknown permissions panic (they are programming errors
// in role data) — use ParseSet for input from people.
func NewSet(ps ...Permission) Set {
	var s Set
	for _, p := range ps {
		i, ok := permIndex[p]
		if !ok {
			panic("authz: unknown permission " + string(p))
		}
		s[i/64] |= 1 << (i % 64)
	}
	return s
}

// ParseSet validates and builds a set from names.
func ParseSet(names []string) (Set, error) {
	ps := make([]Permission, 0, len(names))
	for _, n := range names {
		p, err := ParsePermission(n)
		if err != nil {
			return Set{}, err
		}
		ps = append(ps, p)
	}
	return NewSet(ps...), nil
}

// Has reports whether p is in the set.
func (s Set) Has(p Permission) bool {
	i, ok := permIndex[p]
	return ok && s.hasIndex(i)
}

func (s Set) hasIndex(i int) bool { return s[i/64]&(1<<(i%64)) != 0 }

// Union returns s ∪ o.
func (s Set) Union(o Set) Set { return Set{s[0] | o[0], s[1] | o[1]} }

// Intersect returns s ∩ o.
func (s Set) Intersect(o Set) Set { return Set{s[0] & o[0], s[1] & o[1]} }

// SubsetOf reports whether every permission of s is in o.
func (s Set) SubsetOf(o Set) bool { return s[0]&^o[0] == 0 && s[1]&^o[1] == 0 }

// List returns the permissions in All's order.
func (s Set) List() []Permission {
	var out []Permission
	for _, p := range all {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// Strings returns the permission names in All's order.
func (s Set) Strings() []string {
	ps := s.List()
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
