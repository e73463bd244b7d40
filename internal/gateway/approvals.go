package gateway

import (
	"context"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
	"log/slog"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/config"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// newApprovals builds the deploy approval service from the rules in the
// configuration and puts it in the policy: deploy steps of CI tokens on
// the racks and apps a rule covers need an approval.
func newApprovals(cfg *config.Config, st store.Store, a *audit.Auditor, pol *authz.Policy, n approval.Notifier, log *slog.Logger) (*approval.Service, error) {
	var rules approval.Rules
	for _, r := range cfg.Approvals.Rules {
		rule := approval.Rule{Rack: r.Rack, App: r.App, Needed: r.Approvals,
			ApproverRoles: r.ApproverRoles, ApproverUsers: r.ApproverUsers,
			RequestTTL: r.RequestTTL.D(), Window: r.Window.D(), RunCommands: r.RunCommands,
			Repo: r.GitHubRepo, Commit: deploycheck.CommitRule{Branches: r.Branches, OpenPR: r.OpenPR, AllowForkPRs: r.AllowForkPRs}}
		if r.Images != "" {
			img, err := deploycheck.NewImageRule(r.Images, r.RequireImages)
			if err != nil { // validated already
				return nil, err
			}
			rule.Images = img
		}
		rules = append(rules, rule)
	}
	var gh *deploycheck.GitHub
	if cfg.Approvals.GitHubToken != "" {
		gh = &deploycheck.GitHub{BaseURL: cfg.Approvals.GitHubAPIURL, Token: cfg.Approvals.GitHubToken}
	}
	racks := make([]string, 0, len(cfg.Racks))
	for _, rc := range cfg.Racks {
		racks = append(racks, rc.Name)
	}
	svc := approval.New(st, approval.Config{Rules: rules, Racks: racks, PublicURL: cfg.PublicURL, GitHub: gh}, a, pol, n, nil, log)
	if len(rules) > 0 {
		pol.NeedsApproval = svc.NeedsApproval
	}
	return svc, nil
}

// runApprovalSweeps marks requests whose time ran out as expired, on a
// schedule, until ctx ends.
func (g *Gateway) runApprovalSweeps(ctx context.Context, every time.Duration) {
	if every <= 0 {
		every = time.Minute
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := g.Approvals.Sweep(ctx); err != nil {
				g.Log.Warn("approval sweep", "err", err)
			}
		}
	}
}
