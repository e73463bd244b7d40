package login

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"mime"
	"net/http"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// ClaimRequest is the CLI's claim body.
type ClaimRequest = apitypes.ClaimRequest

// ClaimResponse is a claimed CLI session. Pending claims get 202 and
// {"status":"pending"}; errors {"error": "...", "reason": "..."}.
type ClaimResponse = apitypes.ClaimResponse

// claim hands a completed CLI login's session to the CLI that proves it
// holds the PKCE verifier of the challenge it started with.
//
//	404 unknown request (or a web login's state)   410 expired
//	400 malformed body or verifier                 403 verifier mismatch
//	413 body over 8 KiB                            415 not application/json
//	202 {"status":"pending"} until the browser completes the login
//	409 already claimed, or the login was refused in the browser
//	200 ClaimResponse, once
//
// The verifier is checked before the pending status is revealed, so the
// request id alone (which passed through the browser) tells nothing.
func (h *Handler) claim(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	// Refusals have the admin API's one shape (apitypes.Error), with the
	// request id that the audit event of this claim carries too.
	rid := audit.NewRequestID()
	w.Header().Set("X-Request-Id", rid)
	refuse := func(status int, reason, msg string) {
		writeJSON(w, status, apitypes.Error{Error: msg, Reason: reason, RequestID: rid})
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		refuse(http.StatusUnsupportedMediaType, apitypes.ReasonUnsupportedMediaType, "send application/json")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	var in ClaimRequest
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(&in)
	if mbe := (*http.MaxBytesError)(nil); errors.As(err, &mbe) {
		refuse(http.StatusRequestEntityTooLarge, apitypes.ReasonBodyTooLarge, "the claim is too large")
		return
	}
	if err != nil || !isB64URL(in.Request, 43, 128) {
		refuse(http.StatusBadRequest, "bad_request", "invalid claim: want {\"request\": ..., \"verifier\": ...}")
		return
	}
	ev := h.event(r, "session.create")
	ev.RequestID = rid
	deny := func(status int, reason, msg string, u *store.User) {
		ev.Decision, ev.Reason, ev.Status = "deny", reason, status
		if u != nil {
			setActor(ev, u)
		}
		ev.Details = audit.Details(map[string]any{"kind": authn.KindCLI})
		h.o.Audit.Record(ev)
		refuse(status, reason, msg)
	}

	idHash := sha(in.Request)
	lr, err := h.o.Store.GetLoginRequest(ctx, idHash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && lr.CLIChallenge == "") {
		refuse(http.StatusNotFound, ReasonUnknownState, "unknown login request; run the login command again")
		return
	}
	if err != nil {
		h.log.Error("login: load login request for claim", "err", err)
		refuse(http.StatusServiceUnavailable, ReasonStoreUnavailable, "try again shortly")
		return
	}
	if !h.now().Before(lr.ExpiresAt) {
		refuse(http.StatusGone, ReasonLoginExpired, "the login expired; run the login command again")
		return
	}
	if !validVerifier(in.Verifier) {
		deny(http.StatusBadRequest, ReasonBadVerifier, "a PKCE verifier is required", nil)
		return
	}
	sum := sha256.Sum256([]byte(in.Verifier))
	if !constantEq([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(lr.CLIChallenge)) {
		deny(http.StatusForbidden, ReasonBadVerifier, "the verifier does not match this login", nil)
		return
	}
	if !lr.ConsumedAt.IsZero() {
		if lr.CompletedAt.IsZero() {
			refuse(http.StatusConflict, "login_refused", "the login was refused in the browser; see the browser window and run the login command again")
			return
		}
		deny(http.StatusConflict, ReasonStateReplayed, "this login was already claimed", nil)
		return
	}
	if lr.CompletedAt.IsZero() {
		w.Header().Set("Retry-After", "2")
		writeJSON(w, http.StatusAccepted, map[string]string{"status": "pending"})
		return
	}
	if err := h.o.Store.ConsumeLoginRequest(ctx, idHash, h.now()); err != nil {
		if errors.Is(err, store.ErrConflict) {
			deny(http.StatusConflict, ReasonStateReplayed, "this login was already claimed", nil)
			return
		}
		h.log.Error("login: consume login request at claim", "err", err)
		refuse(http.StatusServiceUnavailable, ReasonStoreUnavailable, "try again shortly")
		return
	}
	u, err := h.o.Store.GetUser(ctx, lr.UserID)
	if err != nil {
		h.log.Error("login: load user at claim", "err", err)
		refuse(http.StatusServiceUnavailable, ReasonStoreUnavailable, "try again shortly")
		return
	}
	if u.Disabled {
		deny(http.StatusForbidden, ReasonUserDisabled, "your account is disabled", u)
		return
	}
	setActor(ev, u)
	s := &store.Session{UserID: u.ID, Kind: authn.KindCLI, Name: lr.CLIName, UserAgent: userAgent(r), SourceIP: h.sourceIP(r),
		MFAMethod: lr.SecondFactor.Method, MFAAt: lr.SecondFactor.At}
	token, err := h.o.Authn.StartSession(ctx, s)
	if err != nil {
		h.log.Error("login: start CLI session", "err", err)
		deny(http.StatusServiceUnavailable, ReasonStoreUnavailable, "try again shortly", u)
		return
	}
	ev.Status = http.StatusOK
	ev.Details = audit.Details(map[string]any{"kind": authn.KindCLI, "cli_name": lr.CLIName, "provider": h.providerHost,
		"session_id": s.ID})
	if !h.recordSession(ctx, ev, s) {
		refuse(http.StatusServiceUnavailable, ReasonAuditUnavailable, "the audit log is unavailable; try again shortly")
		return
	}
	h.log.Info("session created", "kind", authn.KindCLI, "email", u.Email, "cli_name", lr.CLIName, "source_ip", ev.SourceIP)
	writeJSON(w, http.StatusOK, ClaimResponse{Token: token, Email: u.Email, Role: u.Role,
		ExpiresAt: apitypes.Time(s.ExpiresAt)})
}
