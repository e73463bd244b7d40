package approval

import (
	"context"
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var (
	appName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	fullSHA = regexp.MustCompile(`^[0-9a-f]{40}$`)
)

func itoa(id int64) string { return strconv.FormatInt(id, 10) }

// Request records a CI token's request for approval of a deploy. Only an
// API token asks (it is the credential the approval unlocks), with
// deploy:request on the rack, for an app a rule covers.
func (s *Service) Request(ctx context.Context, a Actor, in apitypes.DeployRequestInput) (*store.DeployRequest, error) {
	const action = "deploy.request"
	p := a.Principal
	if p == nil || p.Kind != authz.KindToken {
		return nil, s.deny(a, action, authz.DeployRequest, nil, 403, ReasonNotPerson,
			&Refused{Reason: ReasonNotPerson, Msg: "only a CI API token requests a deploy approval: the approval unlocks that token"})
	}
	in.Commit = strings.ToLower(strings.TrimSpace(in.Commit))
	if err := s.validRequest(in); err != nil {
		return nil, err
	}
	if err := s.authorize(a, action, authz.DeployRequest, in.Rack, nil); err != nil {
		return nil, err
	}
	rule := s.cfg.Rules.Match(in.Rack, in.App)
	if rule == nil {
		return nil, &Invalid{Msg: "deploys of app " + in.App + " on rack " + in.Rack + " need no approval (no approval rule covers them)"}
	}
	checked, err := s.checkCommit(ctx, a, rule, in)
	if err != nil {
		return nil, err
	}
	d := &store.DeployRequest{Rack: in.Rack, App: in.App, Commit: in.Commit, Branch: in.Branch, PRURL: in.PRURL,
		Message: in.Message, CIURL: in.CIURL, TokenID: p.TokenID, OwnerID: p.UserID,
		Requester: "token " + p.TokenName + " of " + p.Email, Needed: rule.Needed, Window: rule.Window,
		ExpiresAt: s.now().Add(rule.RequestTTL)}
	if err := s.writeAhead(ctx, a, action, authz.DeployRequest, nil, map[string]any{"rack": d.Rack, "app": d.App,
		"commit": d.Commit, "branch": d.Branch, "pr_url": d.PRURL, "ci_url": d.CIURL, "needed": d.Needed, "github": checked}); err != nil {
		return nil, err
	}
	if err := s.st.CreateDeployRequest(ctx, d); err != nil {
		return nil, s.unavailable("create a request", err)
	}
	s.audit.Record(s.event(a, "deploy.requested", authz.DeployRequest, d, map[string]any{"expires_at": d.ExpiresAt}))
	s.tell(ctx, EventRequested, d, d.Requester)
	return d, nil
}

// validRequest checks every field a CI job sends (all of it is hostile).
func (s *Service) validRequest(in apitypes.DeployRequestInput) error {
	switch {
	case !slices.Contains(s.cfg.Racks, in.Rack):
		return &Invalid{Msg: "no rack named " + strconv.Quote(in.Rack) + " on this gateway"}
	case !appName.MatchString(in.App):
		return &Invalid{Msg: "app must be a Convox app name (lower-case letters, digits and dashes)"}
	case !fullSHA.MatchString(in.Commit):
		return &Invalid{Msg: "commit must be the full 40-hex commit SHA (an approval binds one exact commit)"}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"branch", in.Branch, 255}, {"message", in.Message, 2000}} {
		if len(f.v) > f.max || !printable(f.v, f.name == "message") {
			return &Invalid{Msg: f.name + " must be at most " + strconv.Itoa(f.max) + " printable characters"}
		}
	}
	for _, f := range []struct{ name, v string }{{"pr_url", in.PRURL}, {"ci_url", in.CIURL}} {
		if f.v == "" {
			continue
		}
		u, err := url.Parse(f.v)
		if err != nil || len(f.v) > 2048 || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || !printable(f.v, false) ||
			strings.ContainsAny(f.v, " <>\"'`") {
			return &Invalid{Msg: f.name + " must be an http(s) URL"}
		}
	}
	return nil
}

// printable reports valid UTF-8 without control characters (newlines
// allowed where multiline).
func printable(v string, multiline bool) bool {
	if !utf8.ValidString(v) {
		return false
	}
	for _, r := range v {
		if unicode.IsControl(r) && !(multiline && (r == '\n' || r == '\t')) {
			return false
		}
	}
	return true
}

// storeErr maps the store's errors: a state conflict is a refusal that
// says what the request is now.
func (s *Service) storeErr(op string, err error, d *store.DeployRequest) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrNotFound
	case errors.Is(err, store.ErrConflict):
		return &Refused{Reason: ReasonNotPending, Msg: "request #" + itoa(d.ID) + " is " + d.Effective(s.now()) +
			", not waiting for approval"}
	}
	return s.unavailable(op, err)
}

// checkCommit asks GitHub whether the commit may be deployed under the
// rule (on an allowed branch, or in an open pull request); a refusal and a
// failure to get an answer both refuse the request (audited). It returns
// the verdict's facts for the audit record (nil when the rule has none).
func (s *Service) checkCommit(ctx context.Context, a Actor, rule *Rule, in apitypes.DeployRequestInput) (map[string]any, error) {
	if rule.Repo == "" {
		return nil, nil
	}
	if s.cfg.GitHub == nil {
		return nil, s.deny(a, "deploy.request", authz.DeployRequest, nil, 503, authz.ReasonStoreUnavailable,
			&Refused{Reason: ReasonCommitNotAllowed, Msg: "this gateway has no GitHub access configured to check the commit"})
	}
	v, err := s.cfg.GitHub.CheckCommit(ctx, rule.Repo, in.Commit, rule.Commit)
	if err != nil {
		s.log.Warn("approval: GitHub commit check", "repo", rule.Repo, "err", err)
		return nil, s.deny(a, "deploy.request", authz.DeployRequest, nil, 503, authz.ReasonStoreUnavailable,
			&Unchecked{Msg: "the commit could not be checked with GitHub (" + err.Error() + "); try again"})
	}
	if !v.Allowed {
		return nil, s.deny(a, "deploy.request", authz.DeployRequest, nil, 403, ReasonCommitNotAllowed,
			&Refused{Reason: ReasonCommitNotAllowed, Msg: v.Reason})
	}
	facts := map[string]any{"repo": rule.Repo}
	if v.Branch != "" {
		facts["branch"] = v.Branch
	}
	if v.PR != 0 {
		facts["pr"], facts["pr_url"] = v.PR, v.PRURL
	}
	return facts, nil
}
