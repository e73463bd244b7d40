package approval

import (
	"context"
	"errors"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// mayRead reports whether the actor may read d: a person with deploy:read
// on its rack, or the token that asked.
func (s *Service) mayRead(a Actor, d *store.DeployRequest) bool {
	p := a.Principal
	if p == nil {
		return false
	}
	if p.Kind == authz.KindToken && p.TokenID == d.TokenID {
		return true
	}
	return s.policy.Decide(authz.Request{Principal: p, Permission: authz.DeployRead, Rack: d.Rack, Now: s.now()}).Allow
}

// Get returns request id; one the actor may not read is ErrNotFound (ids
// cannot be probed).
func (s *Service) Get(ctx context.Context, a Actor, id int64) (*store.DeployRequest, error) {
	d, err := s.st.GetDeployRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, s.unavailable("read a request", err)
	}
	if !s.mayRead(a, d) {
		return nil, s.deny(a, "deploy.read", authz.DeployRead, d, 404, authz.ReasonMissingPermission, ErrNotFound)
	}
	return d, nil
}

// List lists the requests the actor may read, newest first: a person's on
// racks where they have deploy:read, a token's own. Status "pending"
// means waiting now (unexpired).
func (s *Service) List(ctx context.Context, a Actor, f store.DeployFilter) ([]store.DeployRequest, error) {
	p := a.Principal
	if p == nil {
		return nil, &Forbidden{Decision: authz.Decision{Reason: authz.ReasonUnauthenticated}}
	}
	if p.Kind == authz.KindToken {
		f.TokenID = p.TokenID
	} else if !authz.EffectiveAnyRack(p).Has(authz.DeployRead) {
		return nil, s.authorize(a, "deploy.list", authz.DeployRead, "", nil)
	}
	status := f.Status
	if status == store.DeployExpired || status == store.DeployApproved {
		f.Status = "" // as stored, an expired request may still say pending or approved
	}
	all, err := s.st.ListDeployRequests(ctx, f)
	if err != nil {
		return nil, s.unavailable("list requests", err)
	}
	now := s.now()
	out := make([]store.DeployRequest, 0, len(all))
	for i := range all {
		if !s.mayRead(a, &all[i]) || status != "" && all[i].Effective(now) != status {
			continue
		}
		out = append(out, all[i])
	}
	return out, nil
}

// View is a request as the API and the CLI show it, with approvers'
// emails and its state as of now.
func (s *Service) View(ctx context.Context, d *store.DeployRequest) apitypes.DeployRequest {
	v := apitypes.DeployRequest{ID: d.ID, Rack: d.Rack, App: d.App, Commit: d.Commit, Branch: d.Branch, PRURL: d.PRURL,
		Message: d.Message, CIURL: d.CIURL, Requester: d.Requester, TokenID: d.TokenID, Status: d.Effective(s.now()),
		Needed: d.Needed, Approvals: []apitypes.DeployApproval{}, CreatedAt: ts(d.CreatedAt), ExpiresAt: ts(d.ExpiresAt),
		ApprovedAt: ts(d.ApprovedAt), WindowEndsAt: ts(d.WindowEndsAt), Comment: d.Comment,
		ObjectKey: d.ObjectKey, BuildID: d.BuildID, ReleaseID: d.ReleaseID, DeployedAt: ts(d.DeployedAt), URL: s.Link(d.ID)}
	for _, ap := range d.Approvals {
		v.Approvals = append(v.Approvals, apitypes.DeployApproval{Email: ap.Email, Comment: ap.Comment, At: ts(ap.CreatedAt)})
	}
	if d.DecidedBy != 0 {
		if u, err := s.st.GetUser(ctx, d.DecidedBy); err == nil {
			v.RejectedBy = u.Email
		}
	}
	return v
}

// ts is the API's form of a time (apitypes.Time).
func ts(t time.Time) string { return apitypes.Time(t) }
