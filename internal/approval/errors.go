package approval

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// Errors. Their texts are safe to show.
var (
	// ErrNotFound: no such request (or not one the caller may see).
	ErrNotFound = errors.New("no such deploy approval request")
	// ErrUnavailable: the database or the audit log failed; nothing was
	// changed.
	ErrUnavailable = errors.New("deploy approvals are unavailable; try again shortly")
)

// Forbidden is a refusal by the policy: the decision says why (a second
// factor on this very request first, or a permission the role lacks).
type Forbidden struct{ Decision authz.Decision }

func (f *Forbidden) Error() string {
	if f.Decision.Reason == authz.ReasonStepUpRequired {
		return fmt.Sprintf("this needs a second factor (%s) first", f.Decision.StepUp)
	}
	return fmt.Sprintf("permission denied: %s (%s)", f.Decision.Permission, f.Decision.Reason)
}

// Refused is a change the rules of approvals do not allow: approving one's
// own request, a person the policy does not name, a request no longer
// pending. Reason is the audit reason.
type Refused struct {
	Reason authz.Reason
	Msg    string
}

func (r *Refused) Error() string { return r.Msg }

// Unchecked is a request that could not be checked (GitHub did not
// answer): refused, and worth trying again.
type Unchecked struct{ Msg string }

func (e *Unchecked) Error() string { return e.Msg }

// Invalid is a malformed request; Msg says what to fix.
type Invalid struct{ Msg string }

func (e *Invalid) Error() string { return e.Msg }

// Answer is how the admin API and the console answer an error of this
// service: the HTTP status and the reason code.
func Answer(err error) (int, authz.Reason) {
	var fb *Forbidden
	var rf *Refused
	var inv *Invalid
	switch {
	case err == nil:
		return http.StatusOK, authz.ReasonAllowed
	case errors.As(err, &fb):
		return http.StatusForbidden, fb.Decision.Reason
	case errors.As(err, &rf):
		if rf.Reason == ReasonNotPending {
			return http.StatusConflict, rf.Reason
		}
		return http.StatusForbidden, rf.Reason
	case errors.As(err, &inv):
		return http.StatusBadRequest, authz.ReasonBadRequest
	case errors.As(err, new(*Unchecked)):
		return http.StatusServiceUnavailable, authz.ReasonStoreUnavailable
	case errors.Is(err, ErrNotFound):
		return http.StatusNotFound, authz.ReasonBadRequest
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, authz.ReasonStoreUnavailable
	}
	return http.StatusInternalServerError, authz.ReasonStoreUnavailable
}

// Reasons of approval refusals, beside authz's.
const (
	// ReasonSelfApproval: the requester or the token's owner may not
	// approve or reject their own deploy (two-person rule).
	ReasonSelfApproval authz.Reason = "self_approval"
	// ReasonNotApprover: the rule of the rack and app does not name the
	// person or their role.
	ReasonNotApprover authz.Reason = "not_an_approver"
	// ReasonNotPending: the request was decided or has expired.
	ReasonNotPending authz.Reason = "request_not_pending"
	// ReasonNotPerson: only a person approves, and only a CI token
	// requests.
	ReasonNotPerson authz.Reason = "wrong_credential"
	// ReasonCommitNotAllowed: the commit is not on an allowed branch or in
	// an open pull request (GitHub), or cannot be checked.
	ReasonCommitNotAllowed authz.Reason = "commit_not_allowed"
	// ReasonSourceCheck: the uploaded source's images do not match the
	// app's pattern.
	ReasonSourceCheck authz.Reason = "source_check_failed"
)
