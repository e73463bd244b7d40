package mfa

import (
	"errors"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/authz"
)

// Answer is how every front end — the proxy's step-up stage, the admin
// API and the console — answers an error of this service, so that one
// failure gets one status and reason wherever it happens:
//
//   - a refusal by the policy (*Forbidden): 403 with the decision's reason;
//   - a factor that did not prove (wrong, replayed, or of a kind the
//     person has not enrolled): 401 mfa_failed, so a client asks again;
//   - too many failures from the address: 429 rate_limited;
//   - the person is locked out: 403 mfa_locked (only an admin unlocks);
//   - a request this gateway cannot serve as made (*Invalid, a kind it
//     does not offer, an expired or used challenge, an API token asking
//     for a person's factor): 400 bad_request;
//   - the database, the audit log or a validation service failed: 503
//     auth_unavailable;
//   - anything else is a bug: 500, and the caller logs it and shows no
//     text.
func Answer(err error) (int, authz.Reason) {
	var fb *Forbidden
	var inv *Invalid
	switch {
	case err == nil:
		return http.StatusOK, authz.ReasonAllowed
	case errors.As(err, &fb):
		return http.StatusForbidden, fb.Decision.Reason
	case errors.Is(err, ErrInvalidCode), errors.Is(err, ErrReplayed), errors.Is(err, ErrNotEnrolled):
		return http.StatusUnauthorized, authz.ReasonMFAFailed
	case errors.Is(err, ErrRateLimited):
		return http.StatusTooManyRequests, authz.ReasonRateLimited
	case errors.Is(err, ErrLocked):
		return http.StatusForbidden, authz.ReasonMFALocked
	case errors.As(err, &inv), errors.Is(err, ErrNotOffered), errors.Is(err, ErrExpired), errors.Is(err, ErrNotSession):
		return http.StatusBadRequest, authz.ReasonBadRequest
	case errors.Is(err, ErrUnavailable):
		return http.StatusServiceUnavailable, authz.ReasonAuthUnavailable
	}
	return http.StatusInternalServerError, authz.ReasonAuthUnavailable
}
