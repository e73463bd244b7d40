package approval

import (
	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
	"path"
	"slices"
	"time"
)

// Rule is the approval policy of the racks and apps its patterns match:
// deploys from CI there need Needed distinct people, each with a role in
// ApproverRoles on the rack or named in ApproverUsers, to approve.
type Rule struct {
	// Rack and App are path.Match patterns ("*" matches any).
	Rack, App string
	// Needed is how many distinct people must approve (N of M); ≥ 1.
	Needed int
	// ApproverRoles are roles (on the request's rack) whose holders may
	// approve; ApproverUsers are emails of people who may. Both empty
	// means admins only.
	ApproverRoles []string
	ApproverUsers []string
	// RequestTTL is how long a request waits for its approvals.
	RequestTTL time.Duration
	// Window is how long the deploy may run once approved.
	Window time.Duration
	// RunCommands are the `convox run` commands (exact) the approved token
	// may run on the app within the window, e.g. a migration; none
	// otherwise.
	RunCommands []string
	// Images, if set, is what the uploaded source's convox.yml images
	// must match ({{GIT_COMMIT}} is the approved commit); an upload that
	// fails cannot be built.
	Images *deploycheck.ImageRule
	// Repo ("owner/name"), if set, is the GitHub repository whose Commit
	// rule a requested commit must satisfy (on an allowed branch, or in an
	// open pull request), checked when CI asks.
	Repo   string
	Commit deploycheck.CommitRule
}

// Rules are matched in order; the first rule whose patterns match a rack
// and app is theirs. Racks and apps no rule matches need no approval.
type Rules []Rule

// Match returns the rule for app on rack, or nil.
func (rs Rules) Match(rack, app string) *Rule {
	for i := range rs {
		if glob(rs[i].Rack, rack) && glob(rs[i].App, app) {
			return &rs[i]
		}
	}
	return nil
}

func glob(pattern, name string) bool {
	if pattern == "" || pattern == "*" {
		return true
	}
	ok, err := path.Match(pattern, name)
	return err == nil && ok
}

// mayApprove reports whether a person with role on the rack and email is
// one of the rule's approvers.
func (r *Rule) mayApprove(role, email string) bool {
	if len(r.ApproverRoles) == 0 && len(r.ApproverUsers) == 0 {
		return role == "admin"
	}
	return slices.Contains(r.ApproverRoles, role) || slices.Contains(r.ApproverUsers, email)
}
