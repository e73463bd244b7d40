package mfa

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// purposeBrowser is a CLI session's request to be verified in a browser:
// for people whose second factor is a passkey or security key, which a
// terminal cannot use.
const purposeBrowser = "cli-verify"

// BrowserPrefix starts the code a CLI sends (apitypes.HeaderMFACode) once
// a browser has verified its request: "browser:<id>".
const BrowserPrefix = "browser:"

// BrowserRequest is a pending browser verification as the page shows it.
type BrowserRequest struct {
	SessionID   int64
	SessionName string // the CLI session's name
	ExpiresAt   time.Time
	Done        bool
}

// StartBrowserVerification opens a request, bound to the actor's session,
// that a browser signed in as the same person completes by proving a
// second factor there (CompleteBrowserVerification). It returns the id
// the page URL and the CLI's later code carry.
func (s *Service) StartBrowserVerification(ctx context.Context, a Actor) (string, error) {
	p, err := person(a)
	if err != nil {
		return "", err
	}
	id, hash := newID()
	c := &store.MFAChallenge{Hash: hash, SessionID: p.SessionID, Purpose: purposeBrowser, State: []byte("pending"),
		ExpiresAt: s.now().Add(s.cfg.ChallengeTTL)}
	if err := s.st.PutMFAChallenge(ctx, c); err != nil {
		return "", s.unavailable("open a browser verification", err)
	}
	return id, nil
}

// BrowserVerification reads a pending request for the page (by the person
// who owns it) or for the CLI polling it (by its session).
func (s *Service) BrowserVerification(ctx context.Context, a Actor, id string) (*BrowserRequest, error) {
	p := a.Principal
	if p == nil || p.Kind != authz.KindUser {
		return nil, ErrNotSession
	}
	c, err := s.st.PeekMFAChallenge(ctx, hashID(id))
	if err != nil || c.Purpose != purposeBrowser {
		return nil, ErrExpired
	}
	sess, err := s.sessionOf(ctx, p.UserID, c.SessionID)
	if err != nil {
		return nil, err // another person's request: as if it did not exist
	}
	return &BrowserRequest{SessionID: c.SessionID, SessionName: sess.Name, ExpiresAt: c.ExpiresAt, Done: !c.DoneAt.IsZero()}, nil
}

// sessionOf finds one of the user's sessions; ErrExpired if it is not
// theirs.
func (s *Service) sessionOf(ctx context.Context, userID, sessionID int64) (*store.Session, error) {
	ss, err := s.st.ListSessions(ctx, userID)
	if err != nil {
		return nil, s.unavailable("list sessions", err)
	}
	for i := range ss {
		if ss[i].ID == sessionID && ss[i].RevokedAt.IsZero() {
			return &ss[i], nil
		}
	}
	return nil, ErrExpired
}

// CompleteBrowserVerification marks the request verified: the browser's
// web session belongs to the same person and proved a second factor in
// the last minute (the page asks for one right before). The CLI then
// sends "browser:<id>" as its code, once.
func (s *Service) CompleteBrowserVerification(ctx context.Context, web Actor, id string) error {
	p, err := person(web)
	if err != nil {
		return err
	}
	req, err := s.BrowserVerification(ctx, web, id)
	if err != nil {
		return err
	}
	if req.Done {
		return ErrExpired
	}
	if at := p.Assurance.MFAAt; at.IsZero() || s.now().Sub(at) > time.Minute {
		return &Forbidden{Decision: authz.Decision{Reason: authz.ReasonStepUpRequired, StepUp: authz.StepUpEveryRequest}}
	}
	if err := s.st.CompleteMFAChallenge(ctx, hashID(id)); errors.Is(err, store.ErrNotFound) {
		return ErrExpired
	} else if err != nil {
		return s.unavailable("complete a browser verification", err)
	}
	s.audit.Record(s.event(web, ActionVerify, "", map[string]any{"method": p.Assurance.MFAMethod, "for_session": req.SessionID,
		"browser_verification": true}))
	return nil
}

// checkBrowser uses up a completed browser verification of this session.
func (s *Service) checkBrowser(ctx context.Context, sessionID int64, input string) error {
	id := strings.TrimPrefix(input, BrowserPrefix)
	c, err := s.st.TakeMFAChallenge(ctx, hashID(id), sessionID, purposeBrowser)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return ErrInvalidCode
	case err != nil:
		return s.unavailable("use a browser verification", err)
	case c.DoneAt.IsZero():
		return ErrInvalidCode // taken before the browser finished: start again
	}
	return nil
}
