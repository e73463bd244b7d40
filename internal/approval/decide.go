package approval

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Approve records the actor's approval of request id. Only a person (a
// login session) approves, with deploy:approve on the request's rack (a
// second factor on this very request), named by the rule of the rack and
// app, and never the token's owner (two-person rule); the request must be
// pending and unexpired.
func (s *Service) Approve(ctx context.Context, a Actor, id int64, comment string) (*store.DeployRequest, error) {
	d, err := s.decidable(ctx, a, "deploy.approve", id, comment)
	if err != nil {
		return nil, err
	}
	p := a.Principal
	if err := s.writeAhead(ctx, a, "deploy.approve", authz.DeployApprove, d, map[string]any{"comment": comment}); err != nil {
		return nil, err
	}
	got, err := s.st.ApproveDeployRequest(ctx, store.DeployApproval{RequestID: id, UserID: p.UserID, Email: p.Email, Comment: comment})
	if err != nil {
		if errors.Is(err, store.ErrConflict) && d.Effective(s.now()) == store.DeployPending {
			return nil, &Refused{Reason: ReasonNotPending, Msg: "you approved request #" + itoa(id) + " already"}
		}
		return nil, s.storeErr("approve", err, d)
	}
	if got.Status == store.DeployApproved {
		s.audit.Record(s.event(a, "deploy.approved", authz.DeployApprove, got, map[string]any{
			"approvals": len(got.Approvals), "window_ends_at": got.WindowEndsAt}))
		s.tell(ctx, EventApproved, got, p.Email)
	}
	return got, nil
}

// Reject rejects request id, on the same conditions as Approve.
func (s *Service) Reject(ctx context.Context, a Actor, id int64, comment string) (*store.DeployRequest, error) {
	d, err := s.decidable(ctx, a, "deploy.reject", id, comment)
	if err != nil {
		return nil, err
	}
	if err := s.writeAhead(ctx, a, "deploy.reject", authz.DeployApprove, d, map[string]any{"comment": comment}); err != nil {
		return nil, err
	}
	got, err := s.st.RejectDeployRequest(ctx, id, a.Principal.UserID, comment)
	if err != nil {
		return nil, s.storeErr("reject", err, d)
	}
	s.tell(ctx, EventRejected, got, a.Principal.Email)
	return got, nil
}

// decidable checks everything Approve and Reject require before a change;
// every refusal is audited.
func (s *Service) decidable(ctx context.Context, a Actor, action string, id int64, comment string) (*store.DeployRequest, error) {
	p := a.Principal
	if p == nil || p.Kind != authz.KindUser {
		return nil, s.deny(a, action, authz.DeployApprove, nil, http.StatusForbidden, ReasonNotPerson,
			&Refused{Reason: ReasonNotPerson, Msg: "only a person approves or rejects a deploy, signed in, with a second factor; not an API token"})
	}
	if len(comment) > 2000 || !printable(comment, true) {
		return nil, &Invalid{Msg: "the comment must be at most 2000 printable characters"}
	}
	d, err := s.st.GetDeployRequest(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrNotFound
	} else if err != nil {
		return nil, s.unavailable("read a request", err)
	}
	if err := s.authorize(a, action, authz.DeployApprove, d.Rack, d); err != nil {
		return nil, err
	}
	if p.UserID == d.OwnerID {
		return nil, s.deny(a, action, authz.DeployApprove, d, http.StatusForbidden, ReasonSelfApproval, &Refused{Reason: ReasonSelfApproval,
			Msg: "you own the token that asked: someone else must approve or reject request #" + itoa(id) + " (two-person rule)"})
	}
	// Whoever minted the token saw its secret: they could have asked.
	tok, err := s.st.GetToken(ctx, d.TokenID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, s.unavailable("read the requesting token", err)
	}
	if tok != nil && tok.CreatedBy != 0 && tok.CreatedBy == p.UserID {
		return nil, s.deny(a, action, authz.DeployApprove, d, http.StatusForbidden, ReasonSelfApproval, &Refused{Reason: ReasonSelfApproval,
			Msg: "you created the token that asked (you saw its secret): someone else must approve or reject request #" + itoa(id) + " (two-person rule)"})
	}
	rule := s.cfg.Rules.Match(d.Rack, d.App)
	if rule == nil {
		return nil, s.deny(a, action, authz.DeployApprove, d, http.StatusForbidden, ReasonNotApprover, &Refused{Reason: ReasonNotApprover,
			Msg: "no approval rule covers app " + d.App + " on rack " + d.Rack + " any more"})
	}
	if !rule.mayApprove(p.RoleOn(d.Rack), p.Email) {
		who := strings.Join(append(append([]string{}, rule.ApproverRoles...), rule.ApproverUsers...), ", ")
		if who == "" {
			who = "admin"
		}
		return nil, s.deny(a, action, authz.DeployApprove, d, http.StatusForbidden, ReasonNotApprover, &Refused{Reason: ReasonNotApprover,
			Msg: "the approval rule for " + d.Rack + "/" + d.App + " names its approvers (" + who + "); you are not one of them"})
	}
	if st := d.Effective(s.now()); st != store.DeployPending {
		return nil, s.deny(a, action, authz.DeployApprove, d, http.StatusConflict, ReasonNotPending, &Refused{Reason: ReasonNotPending,
			Msg: "request #" + itoa(id) + " is " + st + ", not waiting for approval"})
	}
	for _, ap := range d.Approvals {
		if ap.UserID == p.UserID {
			return nil, s.deny(a, action, authz.DeployApprove, d, http.StatusConflict, ReasonNotPending, &Refused{Reason: ReasonNotPending,
				Msg: "you approved request #" + itoa(id) + " already; another person must add theirs"})
		}
	}
	return d, nil
}
