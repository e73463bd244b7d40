package store

import (
	"context"
	"time"
)

// Deploy request states. A request is pending until enough people approve
// it (approved) or one rejects it (rejected); an approved request is
// deployed once the release built from the approved upload is promoted.
// A pending request past ExpiresAt, or an approved one whose window ended
// before the promote, is expired.
const (
	DeployPending  = "pending"
	DeployApproved = "approved"
	DeployRejected = "rejected"
	DeployExpired  = "expired"
	DeployDeployed = "deployed"
)

// DeployStep names what an approval unlocks, once each, in this order.
type DeployStep string

// The steps an approved request records.
const (
	StepObject  DeployStep = "object"  // the one source upload (its object key)
	StepBuild   DeployStep = "build"   // the one build from it (its id)
	StepRelease DeployStep = "release" // the one promote (the release id)
)

// DeployRequest is a CI token's request that a person approve deploying one
// commit of one app on one rack.
type DeployRequest struct {
	ID      int64
	Rack    string
	App     string
	Commit  string // the full 40-hex commit the approval binds
	Branch  string
	PRURL   string
	Message string
	CIURL   string
	// TokenID is the API token that asked and that the approval unlocks;
	// OwnerID is its owner (who may not approve it).
	TokenID int64
	OwnerID int64
	// Requester describes who asked, for people: "token NAME of EMAIL".
	Requester string
	// Needed is how many distinct people must approve.
	Needed int
	// Window is how long the deploy may run once approved.
	Window time.Duration
	// Status is as stored; Effective gives it at a time.
	Status    string
	CreatedAt time.Time
	ExpiresAt time.Time
	// ApprovedAt and WindowEndsAt are set when the last approval needed
	// arrives.
	ApprovedAt   time.Time
	WindowEndsAt time.Time
	// DecidedBy and Comment are set on a rejection.
	DecidedBy int64
	Comment   string
	// What the approval was used for: "" until claimed. A claimed step
	// whose call is still with the rack holds a placeholder (StepPending).
	ObjectKey  string
	BuildID    string
	ReleaseID  string
	DeployedAt time.Time
	// SourceCheck says why the last upload failed the app's source checks
	// (its images); "" when it passed or none apply.
	SourceCheck string
	// Approvals, oldest first (filled by GetDeployRequest).
	Approvals []DeployApproval
}

// StepPending is the value of a step claimed for a call still in flight.
const StepPending = "(in progress)"

// Effective is the request's state at now: a pending request past its
// expiry, or an approved one whose window ended before it was deployed,
// is expired even before the sweep stores that.
func (d *DeployRequest) Effective(now time.Time) string {
	switch {
	case d.Status == DeployPending && !now.Before(d.ExpiresAt):
		return DeployExpired
	case d.Status == DeployApproved && !now.Before(d.WindowEndsAt):
		return DeployExpired
	}
	return d.Status
}

// DeployApproval is one person's approval of a request.
type DeployApproval struct {
	RequestID int64
	UserID    int64
	Email     string
	Comment   string
	CreatedAt time.Time
}

// DeployFilter selects requests for ListDeployRequests; zero fields match
// everything. Newest first.
type DeployFilter struct {
	Status   string
	Rack     string
	App      string
	TokenID  int64
	BeforeID int64
	Limit    int // default 100, at most 1000
}

// DeployRequests stores deploy approval requests. A missing request, token
// or user is ErrNotFound; a change the request's state does not allow (an
// approval of a request that is not pending or has expired, a second
// approval by one person, a step already claimed or out of order, a step
// outside the window) is ErrConflict.
type DeployRequests interface {
	// CreateDeployRequest inserts d as pending and sets ID, Status and
	// CreatedAt (now); ExpiresAt, Needed (≥ 1) and Window are required.
	CreateDeployRequest(ctx context.Context, d *DeployRequest) error
	// GetDeployRequest returns a request with its approvals.
	GetDeployRequest(ctx context.Context, id int64) (*DeployRequest, error)
	// ListDeployRequests lists requests (without approvals), newest first.
	ListDeployRequests(ctx context.Context, f DeployFilter) ([]DeployRequest, error)
	// LatestDeployRequest returns the token's newest request for the app
	// on the rack: the one its deploy calls are judged by.
	LatestDeployRequest(ctx context.Context, tokenID int64, rack, app string) (*DeployRequest, error)
	// ApproveDeployRequest records a's approval of a pending, unexpired
	// request, atomically: when it is the last one needed, the request
	// becomes approved at now with its window starting. It returns the
	// request after the change.
	ApproveDeployRequest(ctx context.Context, a DeployApproval) (*DeployRequest, error)
	// RejectDeployRequest rejects a pending, unexpired request at now.
	RejectDeployRequest(ctx context.Context, id, userID int64, comment string) (*DeployRequest, error)
	// ClaimDeployStep claims a step of an approved request within its
	// window, atomically and once: the object step when none is claimed,
	// the build step after the object's, the release step after the
	// build's. value is what the step used (StepPending if not yet known).
	ClaimDeployStep(ctx context.Context, id int64, step DeployStep, value string) error
	// FinishDeployStep ends a claimed step: with ok, value replaces the
	// claim (and the release step makes the request deployed at now);
	// without, the claim is given back so the step can be tried again.
	FinishDeployStep(ctx context.Context, id int64, step DeployStep, value string, ok bool) error
	// SetSourceCheck records why the last upload failed the source
	// checks ("" when it passed).
	SetSourceCheck(ctx context.Context, id int64, verdict string) error
	// ExpireDeployRequests stores the expired state of requests whose
	// time ran out before now and returns them.
	ExpireDeployRequests(ctx context.Context) ([]DeployRequest, error)
}
