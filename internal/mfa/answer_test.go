package mfa_test

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/mfa"
)

// One failure, one answer: the table every front end answers with.
func TestAnswer(t *testing.T) {
	for _, c := range []struct {
		err    error
		status int
		reason authz.Reason
	}{
		{mfa.ErrInvalidCode, 401, authz.ReasonMFAFailed},
		{fmt.Errorf("wrapped: %w", mfa.ErrReplayed), 401, authz.ReasonMFAFailed},
		{mfa.ErrNotEnrolled, 401, authz.ReasonMFAFailed},
		{&mfa.PasskeyRefused{Code: "cloned"}, 401, authz.ReasonMFAFailed},
		{mfa.ErrRateLimited, 429, authz.ReasonRateLimited},
		{mfa.ErrLocked, 403, authz.ReasonMFALocked},
		{&mfa.Forbidden{Decision: authz.Decision{Reason: authz.ReasonStepUpRequired}}, 403, authz.ReasonStepUpRequired},
		{&mfa.Forbidden{Decision: authz.Decision{Reason: authz.ReasonMissingPermission}}, 403, authz.ReasonMissingPermission},
		{&mfa.Invalid{Msg: "no such method of yours"}, 400, authz.ReasonBadRequest},
		{mfa.ErrNotOffered, 400, authz.ReasonBadRequest},
		{mfa.ErrExpired, 400, authz.ReasonBadRequest},
		{mfa.ErrNotSession, 400, authz.ReasonBadRequest},
		{mfa.ErrUnavailable, 503, authz.ReasonAuthUnavailable},
		{errors.New("a bug"), http.StatusInternalServerError, authz.ReasonAuthUnavailable},
	} {
		if status, reason := mfa.Answer(c.err); status != c.status || reason != c.reason {
			t.Errorf("Answer(%v) = %d %s, want %d %s", c.err, status, reason, c.status, c.reason)
		}
	}
}
