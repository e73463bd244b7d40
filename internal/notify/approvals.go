package notify

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// ApprovalEvent describes a change of a deploy approval request for
// people: kind is one of the approval.* kinds, actor who made the change
// (the requester for approval.requested), link the request's page.
func ApprovalEvent(kind string, d *store.DeployRequest, actor, link string) Event {
	what := fmt.Sprintf("%s on %s", d.App, d.Rack)
	title := map[string]string{
		ApprovalRequested: "Deploy of " + what + " needs approval",
		ApprovalApproved:  "Deploy of " + what + " approved",
		ApprovalRejected:  "Deploy of " + what + " rejected",
		ApprovalExpired:   "Deploy approval for " + what + " expired",
		ApprovalDeployed:  "Deployed " + what,
	}[kind]
	if title == "" {
		title = "Deploy request for " + what + ": " + kind
	}
	commit := d.Commit
	if len(commit) > 12 {
		commit = commit[:12]
	}
	facts := []Fact{{"Rack", d.Rack}, {"App", d.App}, {"Commit", commit}, {"Branch", d.Branch}, {"Message", d.Message},
		{"Requested by", d.Requester}, {"Pull request", d.PRURL}, {"CI run", d.CIURL}}
	var approvers []string
	for _, a := range d.Approvals {
		approvers = append(approvers, a.Email)
	}
	switch kind {
	case ApprovalRequested:
		facts = append(facts, Fact{"Approvals needed", fmt.Sprint(d.Needed)}, Fact{"Expires", when(d.ExpiresAt)})
	case ApprovalApproved:
		facts = append(facts, Fact{"Approved by", strings.Join(approvers, ", ")}, Fact{"Window ends", when(d.WindowEndsAt)})
	case ApprovalRejected:
		facts = append(facts, Fact{"Rejected by", actor}, Fact{"Comment", d.Comment})
	case ApprovalDeployed:
		facts = append(facts, Fact{"Approved by", strings.Join(approvers, ", ")}, Fact{"Release", d.ReleaseID})
	}
	return Event{Kind: kind, Title: title, Facts: facts, Link: link, Rack: d.Rack, App: d.App, Actor: actor}
}

// when formats a time for people, in UTC; "" for the zero time.
func when(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Notify publishes ApprovalEvent(kind, d, actor, link): the Publisher is
// the deploy approval service's notifier (approval.Notifier). A failure
// is logged, not returned: the request's change stands either way.
func (p *Publisher) Notify(ctx context.Context, kind string, d *store.DeployRequest, actor, link string) {
	if err := p.Publish(ctx, ApprovalEvent(kind, d, actor, link)); err != nil {
		p.log.Error("notify: publish", "kind", kind, "request", d.ID, "err", err)
	}
}
