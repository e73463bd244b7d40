// Package approval is the two-person rule for deploys from CI: a CI token
// asks people to approve deploying one commit of one app on one rack; other
// people (never the token's owner), with a second factor on that very
// action, approve or reject it; an approval unlocks, for that token and
// app and within a window, one source upload, one build from it and one
// promote of the release built from it (Gate, called by the proxy). Every
// step is audited; notifications go out through a Notifier.
package approval

import (
	"context"
	"github.com/rack-gateway/rack-gateway/internal/deploycheck"
	"log/slog"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// Store is what the service keeps requests in.
type Store interface {
	store.DeployRequests
	GetUser(ctx context.Context, id int64) (*store.User, error)
	GetToken(ctx context.Context, id int64) (*store.APIToken, error)
}

// Recorder is the audit log as this package uses it.
type Recorder interface {
	// Record queues a routine event.
	Record(ev *chain.Event)
	// RecordSync writes an event durably; an error means it is not
	// recorded and the change must be refused.
	RecordSync(ctx context.Context, ev *chain.Event) error
}

// Event kinds sent to the Notifier.
const (
	EventRequested = "approval.requested"
	EventApproved  = "approval.approved"
	EventRejected  = "approval.rejected"
	EventExpired   = "approval.expired"
	EventDeployed  = "approval.deployed"
)

// Notifier is told of every change of a request's state (nil: nobody is).
// It must not block: deliveries are durable jobs of their own.
type Notifier interface {
	Notify(ctx context.Context, kind string, d *store.DeployRequest, actor string, link string)
}

// BuildReader reads a build's release from the rack, for the promote
// check (the proxy's read path).
type BuildReader interface {
	BuildRelease(ctx context.Context, rack, app, buildID string) (string, error)
}

// Config is the service's settings.
type Config struct {
	Rules Rules
	// Racks are the gateway's rack names (requests name one of them).
	Racks []string
	// PublicURL is the gateway's, for links to the approval pages.
	PublicURL string
	Clock     clock.Clock
	// GitHub checks commits for rules with a Repo (nil: such requests are
	// refused, failing closed).
	GitHub *deploycheck.GitHub
}

// Service is the deploy approval service.
type Service struct {
	st     Store
	cfg    Config
	audit  Recorder
	policy *authz.Policy
	notify Notifier
	builds BuildReader
	log    *slog.Logger
}

// New returns the service. notify and builds may be nil (then nobody is
// notified, and promotes under an approval are refused: the release of
// the approved build cannot be checked).
func New(st Store, cfg Config, rec Recorder, pol *authz.Policy, notify Notifier, builds BuildReader, log *slog.Logger) *Service {
	cfg.Clock = clock.Or(cfg.Clock)
	if log == nil {
		log = slog.Default()
	}
	return &Service{st: st, cfg: cfg, audit: rec, policy: pol, notify: notify, builds: builds, log: log}
}

// SetBuildReader sets the rack reader once the proxy exists (the proxy is
// built with the service).
func (s *Service) SetBuildReader(b BuildReader) { s.builds = b }

// NeedsApproval reports whether deploys of app on rack need approval:
// authz.Policy.NeedsApproval.
func (s *Service) NeedsApproval(rack, app string) bool { return s.cfg.Rules.Match(rack, app) != nil }

// Rules returns the policy, for the console's policy page.
func (s *Service) Rules() Rules { return s.cfg.Rules }

// Link is the console page of request id.
func (s *Service) Link(id int64) string {
	return s.cfg.PublicURL + "/approvals/" + itoa(id)
}

// Actor is who asks, from where.
type Actor struct {
	Principal *authz.Principal
	SourceIP  string
	UserAgent string
	RequestID string
}

func (s *Service) now() time.Time { return s.cfg.Clock.Now() }

func (s *Service) event(a Actor, action string, perm authz.Permission, d *store.DeployRequest, details map[string]any) *chain.Event {
	id := a.RequestID
	if id == "" {
		id = audit.NewRequestID()
	}
	ev := &chain.Event{Time: s.now(), RequestID: id, SourceIP: a.SourceIP, UserAgent: a.UserAgent, Action: action,
		Permission: string(perm), Decision: "allow", Reason: string(authz.ReasonAllowed), Status: 200}
	if p := a.Principal; p != nil {
		ev.ActorType, ev.Actor, ev.ActorID, ev.Role, ev.TokenID = string(p.Kind), p.Email, p.UserID, p.Role, p.TokenID
	}
	if d != nil {
		ev.Rack, ev.App, ev.Resource = d.Rack, d.App, "deploy-request/"+itoa(d.ID)
		if details == nil {
			details = map[string]any{}
		}
		details["request_id"], details["commit"] = d.ID, d.Commit
	}
	ev.Details = audit.Details(details)
	return ev
}

// deny audits a refusal and returns err.
func (s *Service) deny(a Actor, action string, perm authz.Permission, d *store.DeployRequest, status int, reason authz.Reason, err error) error {
	ev := s.event(a, action, perm, d, nil)
	ev.Decision, ev.Reason, ev.Status = "deny", string(reason), status
	s.audit.Record(ev)
	return err
}

// writeAhead durably records a change before it is made.
func (s *Service) writeAhead(ctx context.Context, a Actor, action string, perm authz.Permission, d *store.DeployRequest, details map[string]any) error {
	if err := s.audit.RecordSync(ctx, s.event(a, action, perm, d, details)); err != nil {
		return ErrUnavailable
	}
	return nil
}

// authorize decides perm on rack for the actor; a refusal is audited.
func (s *Service) authorize(a Actor, action string, perm authz.Permission, rack string, d *store.DeployRequest) error {
	dec := s.policy.Decide(authz.Request{Principal: a.Principal, Permission: perm, Rack: rack, Now: s.now()})
	if dec.Allow {
		return nil
	}
	return s.deny(a, action, perm, d, 403, dec.Reason, &Forbidden{Decision: dec})
}

func (s *Service) unavailable(op string, err error) error {
	s.log.Error("approval: "+op, "err", err)
	return ErrUnavailable
}

func (s *Service) tell(ctx context.Context, kind string, d *store.DeployRequest, actor string) {
	if s.notify != nil {
		s.notify.Notify(ctx, kind, d, actor, s.Link(d.ID))
	}
}
