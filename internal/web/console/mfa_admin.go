package console

import (
	"context"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/mfa"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

// userMFA is a user's second factors as the users page shows them.
type userMFA struct {
	Methods int
	Kinds   string
	Locked  bool
}

// usersMFA reads every user's MFA state in one overview (decided by the
// policy like the list itself); nil if it cannot.
func (c *console) usersMFA(ctx context.Context, q *request) map[string]*userMFA {
	if c.o.MFA == nil {
		return nil
	}
	all, err := c.o.MFA.Overview(ctx, c.mfaActor(q))
	if err != nil {
		return nil
	}
	out := make(map[string]*userMFA, len(all))
	for email, sum := range all {
		kinds := make([]string, len(sum.Kinds))
		for i, k := range sum.Kinds {
			kinds[i] = mfa.KindLabel(k)
		}
		out[email] = &userMFA{Methods: len(kinds), Kinds: strings.Join(kinds, ", "), Locked: sum.Locked}
	}
	return out
}

// unlockUserMFA lifts a lockout after failed attempts; it needs a recent
// second factor of the admin (the step-up path asks for it).
func (c *console) unlockUserMFA(q *request) {
	email := q.r.PostForm.Get("email")
	err := c.o.MFA.Unlock(q.r.Context(), c.mfaActor(q), email)
	c.done(q, "/users", "Unlocked the second factor of "+email+".", err)
}

// resetUserMFA removes a user's factors, backup codes and trusted
// browsers and ends their sessions (a lost device).
func (c *console) resetUserMFA(q *request) {
	email := q.r.PostForm.Get("email")
	err := c.o.MFA.Reset(q.r.Context(), c.mfaActor(q), email)
	c.done(q, "/users", "Reset the second factors of "+email+"; they enrol again at their next sign-in.", err)
}

// accountMFA is the account page's "Second factors" section.
type accountMFA struct {
	Methods     []store.MFAMethod
	BackupCodes int
	Locked      bool
	Trusted     []store.TrustedDevice
	Window      string // the step-up window
	WindowLeft  string // "" when no proof counts as recent
	Required    bool
}

func (c *console) accountMFA(ctx context.Context, q *request) (*accountMFA, error) {
	a := c.mfaActor(q)
	st, err := c.o.MFA.StatusOf(ctx, a)
	if err != nil {
		return nil, err
	}
	ds, err := c.o.MFA.TrustedBrowsers(ctx, a)
	if err != nil {
		return nil, err
	}
	d := &accountMFA{Methods: st.Methods, BackupCodes: st.BackupCodes, Locked: st.Locked,
		Window: duration(c.o.MFA.Window()), Required: c.required()}
	now := time.Now()
	for _, t := range ds {
		if t.RevokedAt.IsZero() && now.Before(t.ExpiresAt) {
			d.Trusted = append(d.Trusted, t)
		}
	}
	if left := c.o.MFA.WindowLeft(q.p); left > 0 {
		d.WindowLeft = left.Round(time.Second).String()
	}
	return d, nil
}
