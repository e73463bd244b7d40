package authz

// Decide is the one policy function: it decides whether principal p may use
// permission perm on the named rack ("" for gateway-wide actions). A nil
// principal is unauthenticated. Deny is the default; only a permission that
// the principal's role grants (and, for tokens, that the token's scope also
// grants) allows.
func Decide(p *Principal, perm Permission, rack string) Decision {
	d := Decision{Permission: perm}
	if p == nil {
		d.Reason = ReasonUnauthenticated
		return d
	}
	if p.Disabled {
		d.Reason = ReasonUserDisabled
		return d
	}
	d.Role = p.RoleOn(rack)
	perms, ok := RolePermissions(d.Role)
	if !ok {
		d.Reason = ReasonUnknownRole
		return d
	}
	if !perms.Has(perm) {
		d.Reason = ReasonMissingPermission
		return d
	}
	if p.Kind == KindToken && !p.TokenPerms.Has(perm) {
		d.Reason = ReasonTokenScope
		return d
	}
	d.Allow, d.Reason = true, ReasonAllowed
	return d
}

// Effective returns the set of permissions p holds on rack, for display and
// for checking that a new token's scope is a subset of its creator's rights.
func Effective(p *Principal, rack string) Set {
	if p == nil || p.Disabled {
		return Set{}
	}
	perms, _ := RolePermissions(p.RoleOn(rack))
	if p.Kind == KindToken {
		perms = perms.Intersect(p.TokenPerms)
	}
	return perms
}

// EffectiveAnyRack is the union of p's permissions over its global role and
// every per-rack binding: the most a token created by or for p may carry.
// Decide still checks the role on the rack a token is used against, so a
// scope wider than one rack's role grants nothing extra there.
func EffectiveAnyRack(p *Principal) Set {
	s := Effective(p, "")
	for rack := range p.RackRole {
		s = s.Union(Effective(p, rack))
	}
	return s
}
