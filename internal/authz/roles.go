package authz

import (
	"fmt"
	"strings"
)

// Role names. Built-in roles nest: viewer ⊂ ops ⊂ deployer ⊂ admin.
const (
	RoleViewer   = "viewer"
	RoleOps      = "ops"
	RoleDeployer = "deployer"
	RoleAdmin    = "admin"
)

// RoleDef is one role as data: its own grants plus the role it extends.
type RoleDef struct {
	Name        string
	Extends     string
	Description string
	Grants      []Permission
}

// Roles returns the built-in role data, ordered from least to most
// privileged. Every decision derives from this table; tests and the README
// matrix read it. The result is a deep copy.
func Roles() []RoleDef {
	out := make([]RoleDef, len(roles))
	for i, r := range roles {
		out[i] = r
		out[i].Grants = append([]Permission(nil), r.Grants...)
	}
	return out
}

var roles = []RoleDef{
	{
		Name:        RoleViewer,
		Description: "reads apps, services, processes, builds, releases without env, logs, instances, rack status",
		Grants: []Permission{
			AppRead, ServiceRead, ProcessRead, LogRead, BuildRead, ReleaseRead,
			ResourceRead, InstanceRead, RackRead, CertRead, TokenSelf, TokenCreate, GatewaySummary, MFASelf, DeployRead,
		},
	},
	{
		Name:        RoleOps,
		Extends:     RoleViewer,
		Description: "adds restart, scale, process stop, exec/run, container files",
		Grants: []Permission{
			ServiceScale, ServiceRestart, ProcessStop, ProcessExec, ProcessRun, FilesRead, FilesWrite,
		},
	},
	{
		Name:        RoleDeployer,
		Extends:     RoleOps,
		Description: "adds object upload, builds, releases, promote, env read/set with secrets masked, deploy approval requests and approving others' (where a policy names them)",
		Grants: []Permission{
			ObjectList, ObjectRead, ObjectWrite, ObjectDelete,
			BuildCreate, BuildExport, ReleaseCreate, ReleasePromote, AppCancel,
			EnvRead, EnvSet, DeployRequest, DeployApprove,
		},
	},
	{
		Name:        RoleAdmin,
		Extends:     RoleDeployer,
		Description: "everything: apps, rack parameters, certificates, registries, resources, instances, rack credentials, secrets, gateway administration",
		Grants: []Permission{
			AppCreate, AppUpdate, AppDelete, AppBudget, ConfigRead, ConfigSet,
			BuildUpdate, EnvProtected, SecretRead,
			ResourceCredentials, ResourceCreate, ResourceUpdate, ResourceDelete, ResourceLink,
			ResourceExport, ResourceImport, ResourceConsole,
			InstanceTerminate, InstanceKeyroll, InstanceShell,
			RackUpdate, RackJWTToken, RackJWTRotate, RackProxy, RackHTTPProxy, RackEvents,
			CertWrite, RegistryRead, RegistryWrite, RegistryPull, RegistryPush,
			GatewayUsers, GatewayTokens, GatewayAudit,
		},
	},
}

var rolePerms = func() map[string]Set {
	m := make(map[string]Set, len(roles))
	for _, r := range roles {
		s := NewSet(r.Grants...)
		if r.Extends != "" {
			parent, ok := m[r.Extends]
			if !ok {
				panic("authz: role " + r.Name + " extends unknown or later role " + r.Extends)
			}
			s = s.Union(parent)
		}
		m[r.Name] = s
	}
	return m
}()

// RolePermissions returns the full permission set of a role and whether the
// role exists. An unknown role has no permissions.
func RolePermissions(role string) (Set, bool) {
	s, ok := rolePerms[role]
	return s, ok
}

// ValidRole checks a role name given by a person.
func ValidRole(role string) error {
	if _, ok := rolePerms[role]; !ok {
		names := make([]string, len(roles))
		for i, r := range roles {
			names[i] = r.Name
		}
		return fmt.Errorf("unknown role %q (want one of %s)", role, strings.Join(names, ", "))
	}
	return nil
}

// RoleNames lists the built-in roles, least privileged first.
func RoleNames() []string {
	out := make([]string, len(roles))
	for i, r := range roles {
		out[i] = r.Name
	}
	return out
}
