package admin

import (
	"context"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// TokenView is an API token as listed (never the secret).
type TokenView = apitypes.Token

// ts is the API's form of a time (apitypes.Time).
func ts(t time.Time) string { return apitypes.Time(t) }

func tokenView(t *store.APIToken, owner string) TokenView {
	return TokenView{ID: t.ID, Name: t.Name, Prefix: t.Prefix, Owner: owner, Permissions: t.Permissions,
		CreatedAt: ts(t.CreatedAt), ExpiresAt: ts(t.ExpiresAt), LastUsedAt: ts(t.LastUsedAt), Revoked: !t.RevokedAt.IsZero()}
}

// TokenRequest asks for a new API token. Its Permissions (the scope) must
// be a subset of the creator's and the owner's. Empty means "whatever the
// owner's role grants", following later role changes both ways, when the
// creator is the owner or holds every permission the owner has; otherwise
// it is a snapshot of what both share at creation.
type TokenRequest = apitypes.TokenRequest

// CreatedToken is returned once, with the secret.
type CreatedToken = apitypes.CreatedToken

// CreateToken mints an API token.
func (s *Service) CreateToken(ctx context.Context, a Actor, req TokenRequest) (*CreatedToken, error) {
	if err := s.authorize(ctx, a, authz.TokenCreate, "token.create"); err != nil {
		return nil, err
	}
	req.Name = strings.TrimSpace(req.Name)
	if req.Name == "" || len(req.Name) > 100 {
		return nil, invalid("token name is required (at most 100 characters)")
	}
	ownerEmail := req.Owner
	if ownerEmail == "" {
		if a.Principal == nil {
			return nil, invalid("owner is required")
		}
		ownerEmail = a.Principal.Email
	}
	ownerEmail, err := normalizeEmail(ownerEmail)
	if err != nil {
		return nil, err
	}
	owner, err := s.Store.GetUserByEmail(ctx, ownerEmail)
	if err != nil {
		return nil, storeErr(err, "user "+ownerEmail)
	}
	if owner.Disabled {
		return nil, invalid("user %s is disabled", ownerEmail)
	}
	if a.Principal != nil && a.Principal.UserID != owner.ID {
		if err := s.authorize(ctx, a, authz.GatewayTokens, "token.create"); err != nil {
			return nil, err
		}
	}
	bindings, err := s.Store.ListRoleBindings(ctx, owner.ID)
	if err != nil {
		return nil, storeErr(err, "role bindings")
	}
	ownerP := &authz.Principal{Kind: authz.KindUser, Role: owner.Role, RackRole: map[string]string{}}
	for _, b := range bindings {
		ownerP.RackRole[b.Rack] = b.Role
	}
	limit := authz.EffectiveAnyRack(ownerP)
	if a.Principal != nil {
		limit = limit.Intersect(authz.EffectiveAnyRack(a.Principal))
	}
	scope := limit
	followRole := len(req.Permissions) == 0 && (a.Principal == nil ||
		a.Principal.Kind == authz.KindUser && (a.Principal.UserID == owner.ID ||
			authz.EffectiveAnyRack(ownerP).SubsetOf(authz.EffectiveAnyRack(a.Principal))))
	if len(req.Permissions) > 0 {
		scope, err = authz.ParseSet(req.Permissions)
		if err != nil {
			return nil, invalid("%v", err)
		}
		if !scope.SubsetOf(limit) {
			var extra []string
			for _, p := range scope.List() {
				if !limit.Has(p) {
					extra = append(extra, string(p))
				}
			}
			ev := s.event(a, "token.create", authz.TokenCreate)
			ev.Resource = req.Name
			ev.Decision, ev.Reason, ev.Status = "deny", string(authz.ReasonScopeTooWide), 403
			ev.Details = audit.Details(map[string]any{"owner": ownerEmail, "beyond": extra})
			s.Audit.Record(ev)
			return nil, &Error{Kind: KindForbidden, Reason: authz.ReasonScopeTooWide,
				Msg: "a token cannot exceed its creator's or owner's permissions: " + strings.Join(extra, ", ")}
		}
	}
	var expires time.Time
	if req.ExpiresIn != "" {
		d, err := time.ParseDuration(req.ExpiresIn)
		if err != nil || d <= 0 || d > 5*365*24*time.Hour {
			return nil, invalid("expires_in must be a positive duration like 720h (at most 5 years)")
		}
		expires = s.now().Add(d)
	}
	secret, hash := authn.NewToken()
	perms := scope.Strings()
	if followRole {
		perms = []string{authn.FollowRole}
	}
	t := &store.APIToken{Name: req.Name, Prefix: authn.DisplayPrefix(secret), Hash: hash, UserID: owner.ID,
		Permissions: perms, ExpiresAt: expires}
	if a.Principal != nil {
		t.CreatedBy = a.Principal.UserID // a person, or the owner of the token that asked
	}
	ev := s.event(a, "token.create", authz.TokenCreate)
	ev.Resource = req.Name
	ch, err := s.writeAhead(ctx, ev, map[string]any{"after": map[string]any{
		"name": t.Name, "owner": ownerEmail, "prefix": t.Prefix, "permissions": t.Permissions, "expires_at": ts(expires)}})
	if err != nil {
		return nil, err
	}
	if err := ch.finish(storeErr(s.Store.CreateToken(ctx, t), "token")); err != nil {
		return nil, err
	}
	return &CreatedToken{Token: secret, Detail: tokenView(t, ownerEmail)}, nil
}

// ListTokens lists the caller's tokens, or everyone's with all=true (which
// needs gateway:tokens).
func (s *Service) ListTokens(ctx context.Context, a Actor, all bool) ([]TokenView, error) {
	perm := authz.TokenSelf
	if all || a.Principal == nil {
		perm = authz.GatewayTokens
	}
	if err := s.authorize(ctx, a, perm, "token.list"); err != nil {
		return nil, err
	}
	s.recordRead(a, "token.list", perm)
	var uid int64
	if !all && a.Principal != nil {
		uid = a.Principal.UserID
	}
	ts, err := s.Store.ListTokens(ctx, uid)
	if err != nil {
		return nil, storeErr(err, "tokens")
	}
	emails := map[int64]string{}
	out := make([]TokenView, 0, len(ts))
	for i := range ts {
		e, ok := emails[ts[i].UserID]
		if !ok {
			if u, err := s.Store.GetUser(ctx, ts[i].UserID); err == nil {
				e = u.Email
			}
			emails[ts[i].UserID] = e
		}
		out = append(out, tokenView(&ts[i], e))
	}
	return out, nil
}

// RevokeToken revokes a token: one's own with gateway:token-self, anyone's
// with gateway:tokens.
func (s *Service) RevokeToken(ctx context.Context, a Actor, id int64) error {
	if err := s.authorize(ctx, a, authz.TokenSelf, "token.revoke"); err != nil {
		return err
	}
	t, err := s.Store.GetToken(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeErr(err, "token")
	}
	// Someone else's token is revoked only with gateway:tokens. Without
	// it, another's token and an unknown id get the same answer, so token
	// ids cannot be probed; the refusal is audited all the same.
	if err != nil || a.Principal != nil && t.UserID != a.Principal.UserID {
		if aerr := s.authorize(ctx, a, authz.GatewayTokens, "token.revoke"); aerr != nil || err != nil {
			return storeErr(store.ErrNotFound, "token "+strconv.FormatInt(id, 10))
		}
	}
	if !t.RevokedAt.IsZero() {
		return nil
	}
	ev := s.event(a, "token.revoke", authz.TokenSelf)
	ev.Resource = t.Name
	ch, err := s.writeAhead(ctx, ev, map[string]any{"token_id": id, "prefix": t.Prefix})
	if err != nil {
		return err
	}
	if err := ch.finish(storeErr(s.Store.RevokeToken(ctx, id, s.now()), "token")); err != nil {
		return err
	}
	s.changed()
	return nil
}

// ListAudit returns audit events (gateway:audit).
func (s *Service) ListAudit(ctx context.Context, a Actor, f store.AuditFilter) ([]chain.Event, error) {
	if err := s.authorize(ctx, a, authz.GatewayAudit, "audit.read"); err != nil {
		return nil, err
	}
	s.recordRead(a, "audit.read", authz.GatewayAudit)
	evs, err := s.Store.ListAudit(ctx, f)
	if err != nil {
		return nil, storeErr(err, "audit")
	}
	return evs, nil
}

// ExportAudit authorizes and audits an export, then writes it to the
// writer that start returns (called only once authorized, so a refusal can
// still be answered as an error).
func (s *Service) ExportAudit(ctx context.Context, a Actor, o export.Options, start func() io.Writer) error {
	if err := s.authorize(ctx, a, authz.GatewayAudit, "audit.export"); err != nil {
		return err
	}
	ev := s.event(a, "audit.export", authz.GatewayAudit)
	ch, err := s.writeAhead(ctx, ev, map[string]any{"format": o.Format, "app": o.App, "actor": o.Actor,
		"action": o.Action, "decision": o.Decision, "rack": o.Rack, "since": ts(o.Since), "until": ts(o.Until)})
	if err != nil {
		return err
	}
	// Once the response has started, a failure can only cut it short; a
	// truncated JSONL export then fails verification, which is the point.
	return ch.finish(export.Write(ctx, s.Store, start(), o))
}
