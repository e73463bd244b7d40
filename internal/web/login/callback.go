package login

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/authn"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/web/websession"
)

// Reason codes recorded in audit events for refused logins.
const (
	ReasonBadState          = "bad_state"
	ReasonUnknownState      = "unknown_state"
	ReasonLoginExpired      = "login_expired"
	ReasonBrowserMismatch   = "browser_mismatch"
	ReasonStateReplayed     = "state_replayed"
	ReasonIdPError          = "idp_error"
	ReasonMissingCode       = "missing_code"
	ReasonExchangeFailed    = "code_exchange_failed"
	ReasonInvalidIDToken    = "invalid_id_token"
	ReasonBadNonce          = "bad_nonce"
	ReasonEmailMissing      = "email_missing"
	ReasonEmailUnverified   = "email_unverified"
	ReasonDomainNotAllowed  = "domain_not_allowed"
	ReasonUnknownUser       = "unknown_user"
	ReasonUserDisabled      = "user_disabled"
	ReasonAuditUnavailable  = "audit_unavailable"
	ReasonStoreUnavailable  = "store_unavailable"
	ReasonBadVerifier       = "bad_verifier"
	ReasonCrossOrigin       = "cross_origin"
	ReasonRoleFromGroups    = "role_from_groups"
	reasonAutoProvisioned   = "auto_provisioned"
	systemActorOIDC         = "oidc-login"
	maxStateLen             = 128
	maxIdPErrorLen          = 64
	messageStartAgain       = "Start the login again."
	messageStartAgainInThis = "Start the login again in this browser."
)

// refusal is a refused login: audited, and shown as a page.
type refusal struct {
	status     int
	reason     string
	title, msg string
	details    map[string]any
}

func refuse(status int, reason, title, msg string) *refusal {
	return &refusal{status: status, reason: reason, title: title, msg: msg}
}

// identity is what the verified ID token says.
type identity struct {
	email, name, hd string
	groups          []string
}

// callback completes a login: the IdP redirects the browser here.
func (h *Handler) callback(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	q := r.URL.Query()
	ev := h.event(r, "login")
	var lr *store.LoginRequest
	kind := ""
	deny := func(f *refusal) {
		ev.Decision, ev.Reason, ev.Status = "deny", f.reason, f.status
		d := map[string]any{"provider": h.providerHost}
		if kind != "" {
			d["kind"] = kind
		}
		for k, v := range f.details {
			d[k] = v
		}
		ev.Details = audit.Details(d)
		h.o.Audit.Record(ev)
		h.log.Info("login refused", "reason", f.reason, "kind", kind, "actor", ev.Actor, "source_ip", ev.SourceIP)
		// A refused CLI login is finished: the CLI's claim then stops
		// waiting (409) instead of polling until expiry. Web states were
		// already consumed.
		if lr != nil && kind == authn.KindCLI {
			_ = h.o.Store.ConsumeLoginRequest(context.WithoutCancel(ctx), lr.IDHash, h.now())
		}
		h.failPage(w, f.status, f.title, f.msg)
	}

	state := q.Get("state")
	if state == "" || len(state) > maxStateLen || len(q["state"]) != 1 {
		deny(refuse(http.StatusBadRequest, ReasonBadState, "Sign-in link incomplete",
			"This sign-in link is incomplete. "+messageStartAgain))
		return
	}
	idHash := sha(state)
	got, err := h.o.Store.GetLoginRequest(ctx, idHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		deny(refuse(http.StatusBadRequest, ReasonUnknownState, "Sign-in expired",
			"This sign-in is unknown or has expired. "+messageStartAgain))
		return
	case err != nil:
		h.log.Error("login: load login request", "err", err)
		deny(refuse(http.StatusServiceUnavailable, ReasonStoreUnavailable, "Try again shortly",
			"Sign-in is unavailable right now."))
		return
	}
	kind = authn.KindWeb
	if got.CLIChallenge != "" {
		kind = authn.KindCLI
	}
	if !h.now().Before(got.ExpiresAt) {
		deny(refuse(http.StatusBadRequest, ReasonLoginExpired, "Sign-in expired",
			"This sign-in took too long and has expired. "+messageStartAgain))
		return
	}
	// Login CSRF defence: the browser finishing the login must be the one
	// that started it. Checked before the state is used up, so a forged
	// callback cannot spoil the real one.
	if !h.boundToBrowser(r, got) {
		deny(refuse(http.StatusBadRequest, ReasonBrowserMismatch, "Start the login again in this browser",
			"This sign-in was not started in this browser. "+messageStartAgainInThis))
		return
	}
	lr = got
	replayed := refuse(http.StatusBadRequest, ReasonStateReplayed, "Sign-in already used",
		"This sign-in link was already used. "+messageStartAgain)
	if kind == authn.KindWeb {
		if err := h.o.Store.ConsumeLoginRequest(ctx, idHash, h.now()); err != nil {
			if errors.Is(err, store.ErrConflict) {
				lr = nil
				deny(replayed)
				return
			}
			h.log.Error("login: consume login request", "err", err)
			deny(refuse(http.StatusServiceUnavailable, ReasonStoreUnavailable, "Try again shortly",
				"Sign-in is unavailable right now."))
			return
		}
	} else if !lr.CompletedAt.IsZero() || !lr.ConsumedAt.IsZero() {
		// Completed atomically below; this early check saves a code
		// exchange for an obvious replay.
		lr = nil
		deny(replayed)
		return
	}

	if e := q.Get("error"); e != "" {
		f := refuse(http.StatusForbidden, ReasonIdPError, "Sign-in cancelled",
			"The identity provider did not sign you in. "+messageStartAgain)
		f.details = map[string]any{"idp_error": idpErrorCode(e)}
		deny(f)
		return
	}
	code := q.Get("code")
	if code == "" || len(q["code"]) != 1 {
		deny(refuse(http.StatusBadRequest, ReasonMissingCode, "Sign-in link incomplete",
			"The identity provider's answer is incomplete. "+messageStartAgain))
		return
	}

	id, f := h.exchange(ctx, code, lr)
	if id != nil {
		// The claimed (maybe unverified) email; ActorType stays anonymous
		// until the user is known.
		ev.Actor = id.email
	}
	if f != nil {
		deny(f)
		return
	}
	u, f := h.resolveUser(r, id)
	if f != nil {
		if u != nil {
			setActor(ev, u)
		}
		deny(f)
		return
	}
	setActor(ev, u)

	d := map[string]any{"kind": kind, "provider": h.providerHost}
	if matched := h.matchedGroups(id.groups); len(matched) > 0 {
		d["groups_matched"] = matched
	}
	if kind == authn.KindCLI {
		h.completeCLI(w, r, ev, d, lr, u)
		return
	}
	h.completeWeb(w, r, ev, d, lr, u)
}

// exchange redeems the code with the gateway's PKCE verifier and verifies
// the ID token and its claims.
func (h *Handler) exchange(ctx context.Context, code string, lr *store.LoginRequest) (*identity, *refusal) {
	tok, err := h.oauth.Exchange(oidc.ClientContext(ctx, h.httpClient), code, oauth2.VerifierOption(lr.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) && re.Response != nil {
			h.log.Warn("login: code exchange refused by the identity provider", "status", re.Response.StatusCode, "error", re.ErrorCode)
		} else {
			h.log.Warn("login: code exchange failed", "err", err)
		}
		return nil, refuse(http.StatusBadGateway, ReasonExchangeFailed, "Sign-in failed",
			"The identity provider did not confirm the sign-in. "+messageStartAgain)
	}
	badToken := func(check string) *refusal {
		f := refuse(http.StatusForbidden, ReasonInvalidIDToken, "Sign-in failed",
			"The identity provider's answer could not be verified. "+messageStartAgain)
		f.details = map[string]any{"check": check}
		return f
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, badToken("missing")
	}
	idt, err := h.verifier.Verify(oidc.ClientContext(ctx, h.httpClient), raw)
	if err != nil {
		var exp *oidc.TokenExpiredError
		if errors.As(err, &exp) {
			return nil, badToken("expired")
		}
		h.log.Warn("login: ID token rejected", "err", err)
		return nil, badToken("verify")
	}
	if !constantEq([]byte(idt.Nonce), []byte(lr.Nonce)) {
		return nil, refuse(http.StatusForbidden, ReasonBadNonce, "Sign-in failed",
			"The identity provider's answer does not belong to this sign-in. "+messageStartAgain)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, badToken("claims")
	}
	id := &identity{
		email: store.NormalizeEmail(claimString(claims["email"])),
		name:  strings.TrimSpace(claimString(claims["name"])),
		hd:    normDomain(claimString(claims["hd"])),
	}
	if len(id.name) > 200 {
		id.name = id.name[:200]
	}
	if g := h.o.OIDC.GroupsClaim; g != "" {
		id.groups = claimStrings(claims[g])
	}
	if !validEmail(id.email) {
		return nil, refuse(http.StatusForbidden, ReasonEmailMissing, "No email address",
			"The identity provider did not give an email address for your account.")
	}
	if !claimTrue(claims["email_verified"]) {
		return id, refuse(http.StatusForbidden, ReasonEmailUnverified, "Email not verified",
			"Your identity provider has not verified your email address, so it cannot be used to sign in.")
	}
	if len(h.allowed) > 0 {
		domain := id.email[strings.LastIndexByte(id.email, '@')+1:]
		bad := !slices.Contains(h.allowed, domain)
		// Google Workspace: the hosted domain claim must match as well; a
		// consumer account with an address at the domain has no hd.
		if h.hdRules && (id.hd == "" || !slices.Contains(h.allowed, id.hd)) {
			bad = true
		}
		if bad {
			return id, refuse(http.StatusForbidden, ReasonDomainNotAllowed, "Domain not allowed",
				"Accounts from that domain may not sign in to this gateway.")
		}
	}
	return id, nil
}

// resolveUser finds (or auto-provisions) the user, refuses disabled ones,
// applies the group → role mapping and records the login time. A refusal
// may come with the user, for the audit event.
func (h *Handler) resolveUser(r *http.Request, id *identity) (*store.User, *refusal) {
	ctx := r.Context()
	unavailable := refuse(http.StatusServiceUnavailable, ReasonStoreUnavailable, "Try again shortly",
		"Sign-in is unavailable right now.")
	u, err := h.o.Store.GetUserByEmail(ctx, id.email)
	if errors.Is(err, store.ErrNotFound) {
		if !h.autoProvision(id.email) {
			return nil, refuse(http.StatusForbidden, ReasonUnknownUser, "Account not known",
				"Your account ("+id.email+") is not known to this gateway. Ask an administrator to add you.")
		}
		u, err = h.provision(r, id)
		if err != nil {
			if errors.Is(err, errAudit) {
				return nil, refuse(http.StatusServiceUnavailable, ReasonAuditUnavailable, "Try again shortly",
					"The audit log is unavailable, so sign-in is paused.")
			}
			h.log.Error("login: auto-provision user", "err", err)
			return nil, unavailable
		}
	} else if err != nil {
		h.log.Error("login: load user", "err", err)
		return nil, unavailable
	}
	if u.Disabled {
		return u, refuse(http.StatusForbidden, ReasonUserDisabled, "Account disabled",
			"Your account is disabled. Ask an administrator.")
	}

	before := u.Role
	if role, matched := h.roleFromGroups(id.groups); role != "" && role != u.Role {
		ev := h.event(r, "user.update")
		ev.ActorType, ev.Actor, ev.Resource = "system", systemActorOIDC, u.Email
		ev.Reason = ReasonRoleFromGroups
		ev.Details = audit.Details(map[string]any{"provider": h.providerHost, "groups_matched": matched,
			"before": map[string]any{"role": before}, "after": map[string]any{"role": role}})
		if err := h.o.Audit.RecordSync(ctx, ev); err != nil {
			return u, refuse(http.StatusServiceUnavailable, ReasonAuditUnavailable, "Try again shortly",
				"The audit log is unavailable, so sign-in is paused.")
		}
		u.Role = role
	}
	if u.Name == "" && id.name != "" {
		u.Name = id.name
	}
	u.LastLoginAt = h.now()
	if err := h.o.Store.UpdateUser(ctx, u); err != nil {
		h.log.Error("login: update user", "err", err)
		return u, unavailable
	}
	if u.Role != before {
		// The role changed: sessions made under the old role end.
		n, err := h.o.Store.RevokeUserSessions(ctx, u.ID, h.now())
		h.o.Authn.Invalidate()
		ev := h.event(r, "session.revoke-all")
		ev.ActorType, ev.Actor, ev.Resource = "system", systemActorOIDC, u.Email
		d := map[string]any{"reason": "role changed by identity provider groups", "revoked": n}
		if err != nil {
			ev.Decision, ev.Reason = "deny", ReasonStoreUnavailable
			d["error"] = "could not revoke sessions"
			h.log.Error("login: revoke sessions after role change", "err", err)
		}
		ev.Details = audit.Details(d)
		h.o.Audit.Record(ev)
	}
	return u, nil
}

var errAudit = errors.New("audit unavailable")

// autoProvision reports whether an unknown verified email may be created.
func (h *Handler) autoProvision(email string) bool {
	if h.autoEmails[email] {
		return true
	}
	return h.autoDomains[email[strings.LastIndexByte(email, '@')+1:]]
}

// provision creates an unknown user with the default role, audited first.
func (h *Handler) provision(r *http.Request, id *identity) (*store.User, error) {
	ctx := r.Context()
	ev := h.event(r, "user.create")
	ev.ActorType, ev.Actor, ev.Resource, ev.Reason = "system", systemActorOIDC, id.email, reasonAutoProvisioned
	ev.Details = audit.Details(map[string]any{"provider": h.providerHost,
		"after": map[string]any{"email": id.email, "name": id.name, "role": h.defaultRole}})
	if err := h.o.Audit.RecordSync(ctx, ev); err != nil {
		return nil, errAudit
	}
	u := &store.User{Email: id.email, Name: id.name, Role: h.defaultRole}
	if err := h.o.Store.CreateUser(ctx, u); err != nil {
		if errors.Is(err, store.ErrConflict) { // created concurrently
			return h.o.Store.GetUserByEmail(ctx, id.email)
		}
		return nil, err
	}
	h.log.Info("login: auto-provisioned user", "email", u.Email, "role", u.Role)
	return u, nil
}

// matchedGroups returns the user's groups that map to a role, sorted.
func (h *Handler) matchedGroups(groups []string) []string {
	var out []string
	for _, g := range groups {
		if _, ok := h.groupRoles[g]; ok && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// roleFromGroups returns the highest role the groups map to ("" if none)
// and the groups that matched.
func (h *Handler) roleFromGroups(groups []string) (string, []string) {
	matched := h.matchedGroups(groups)
	best, bestRank := "", -1
	names := authz.RoleNames()
	for _, g := range matched {
		role := h.groupRoles[g]
		if rank := slices.Index(names, role); rank > bestRank {
			best, bestRank = role, rank
		}
	}
	return best, matched
}

// completeWeb starts a fresh web session (rotation: any session this
// browser had is revoked) and sends the browser back where it was going.
func (h *Handler) completeWeb(w http.ResponseWriter, r *http.Request, ev *chain.Event, d map[string]any,
	lr *store.LoginRequest, u *store.User) {
	if !h.startWebSession(w, r, ev, d, u) {
		return
	}
	h.clearLoginCookie(w)
	h.log.Info("login", "kind", authn.KindWeb, "email", u.Email, "role", u.Role, "source_ip", ev.SourceIP)
	redirect(w, SafeReturnTo(lr.ReturnTo), http.StatusSeeOther)
}

// startWebSession starts a fresh web session for u, recorded durably
// with the login event ev, and sets its cookie; on failure it answers
// and reports false.
func (h *Handler) startWebSession(w http.ResponseWriter, r *http.Request, ev *chain.Event, d map[string]any, u *store.User) bool {
	ctx := r.Context()
	if c, err := r.Cookie(websession.CookieName); err == nil && c.Value != "" {
		if old, err := h.o.Store.GetSessionByHash(ctx, authn.HashToken(c.Value)); err == nil && old.RevokedAt.IsZero() {
			if err := h.o.Authn.RevokeSession(ctx, old.ID); err != nil {
				h.log.Warn("login: revoke previous web session", "err", err)
			} else {
				d["previous_session_revoked"] = true
			}
		}
	}
	s := &store.Session{UserID: u.ID, Kind: authn.KindWeb, UserAgent: userAgent(r), SourceIP: h.sourceIP(r)}
	token, err := h.o.Authn.StartSession(ctx, s)
	if err != nil {
		h.log.Error("login: start web session", "err", err)
		ev.Decision, ev.Reason, ev.Status = "deny", ReasonStoreUnavailable, http.StatusServiceUnavailable
		ev.Details = audit.Details(d)
		h.o.Audit.Record(ev)
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return false
	}
	ev.Status = http.StatusSeeOther
	d["session_id"] = s.ID
	ev.Details = audit.Details(d)
	if !h.recordSession(ctx, ev, s) {
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly",
			"The audit log is unavailable, so sign-in is paused.")
		return false
	}
	websession.Set(w, token, h.secure, h.o.Authn.SessionPolicy().WebAbsolute)
	return true
}

// recordSession writes the event of a session just started, durably, before
// its token is handed out. If the audit log cannot take it, the session is
// revoked at once (its token was never shown to anyone) and it reports
// false: no session exists without its record.
func (h *Handler) recordSession(ctx context.Context, ev *chain.Event, s *store.Session) bool {
	if err := h.o.Audit.RecordSync(ctx, ev); err != nil {
		if rerr := h.o.Authn.RevokeSession(context.WithoutCancel(ctx), s.ID); rerr != nil {
			h.log.Error("login: revoke a session whose audit event failed (its token was never handed out)",
				"session_id", s.ID, "err", rerr)
		}
		return false
	}
	return true
}

// completeCLI records who signed in; the CLI then claims the session with
// its verifier. No web session is made, unless the browser must prove a
// second factor first.
func (h *Handler) completeCLI(w http.ResponseWriter, r *http.Request, ev *chain.Event, d map[string]any,
	lr *store.LoginRequest, u *store.User) {
	if h.o.SecondFactor {
		// The browser proves a second factor first (cli_mfa.go): it gets
		// a web session to do so, and the login completes after.
		d["pending_second_factor"] = true
		if !h.startWebSession(w, r, ev, d, u) {
			return
		}
		redirect(w, finishPath(lr.IDHash), http.StatusSeeOther)
		return
	}
	h.completeCLIFor(w, r, ev, d, lr, u, store.SecondFactor{})
}

// completeCLIFor completes the CLI login request for u, with the second
// factor the browser proved (zero: none), and tells the browser to go
// back to the terminal.
func (h *Handler) completeCLIFor(w http.ResponseWriter, r *http.Request, ev *chain.Event, d map[string]any,
	lr *store.LoginRequest, u *store.User, mfa store.SecondFactor) {
	ctx := r.Context()
	if err := h.o.Store.CompleteLoginRequest(ctx, lr.IDHash, u.ID, mfa, h.now()); err != nil {
		ev.Decision, ev.Status = "deny", http.StatusBadRequest
		if errors.Is(err, store.ErrConflict) {
			ev.Reason = ReasonStateReplayed
			ev.Details = audit.Details(d)
			h.o.Audit.Record(ev)
			h.failPage(w, http.StatusBadRequest, "Sign-in already used",
				"This sign-in link was already used. "+messageStartAgain)
			return
		}
		h.log.Error("login: complete login request", "err", err)
		ev.Reason, ev.Status = ReasonStoreUnavailable, http.StatusServiceUnavailable
		ev.Details = audit.Details(d)
		h.o.Audit.Record(ev)
		h.failPage(w, http.StatusServiceUnavailable, "Try again shortly", "Sign-in is unavailable right now.")
		return
	}
	d["cli_name"] = lr.CLIName
	d["pending_claim"] = true
	ev.Status = http.StatusOK
	ev.Details = audit.Details(d)
	h.o.Audit.Record(ev)
	h.clearLoginCookie(w)
	h.log.Info("login", "kind", authn.KindCLI, "email", u.Email, "cli_name", lr.CLIName, "source_ip", ev.SourceIP)
	h.render(w, http.StatusOK, page{Title: "Signed in", Tone: "ok",
		Message: "Signed in as " + u.Email + ". Return to your terminal; you can close this window."})
}

// ---- claims ----

func claimString(v any) string {
	s, _ := v.(string)
	return s
}

// claimTrue accepts true, or "true" as some providers send it.
func claimTrue(v any) bool {
	switch b := v.(type) {
	case bool:
		return b
	case string:
		return b == "true"
	}
	return false
}

// claimStrings reads a list of strings (or one string) from a claim.
func claimStrings(v any) []string {
	const max = 1000
	switch x := v.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" && len(out) < max {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func validEmail(e string) bool {
	if len(e) > 254 || strings.Count(e, "@") != 1 {
		return false
	}
	local, domain, _ := strings.Cut(e, "@")
	if local == "" || domain == "" || strings.ContainsAny(e, " \t\r\n<>\"") {
		return false
	}
	return true
}

// idpErrorCode keeps an OAuth error code for the audit log if it looks
// like one ([a-z_], bounded), else "other".
func idpErrorCode(s string) string {
	if len(s) > maxIdPErrorLen {
		return "other"
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c == '_') {
			return "other"
		}
	}
	return s
}
