package client

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"text/tabwriter"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// Racks is `rack-gateway racks`.
func Racks(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "racks", "racks\n\nLists the saved logins; * marks the current rack.")
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fs.Fail()
	}
	cfg, _, err := loadClientConfig(e)
	if err != nil {
		return err
	}
	if len(cfg.Racks) == 0 {
		fmt.Fprintln(e.Stderr, "Not logged in to any gateway: run `rack-gateway login https://GATEWAY`.")
		return nil
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\tNAME\tURL\tUSER\tROLE\tEXPIRES")
	for _, n := range cfg.names() {
		r := cfg.Racks[n]
		mark := ""
		if n == cfg.Current {
			mark = "*"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", mark, n, r.URL, orDefault(r.Email, "-"), orDefault(r.Role, "-"), fmtExpiry(r.ExpiresAt))
	}
	return tw.Flush()
}

// Switch is `rack-gateway switch`.
func Switch(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "switch", "switch NAME")
	rack := rackFlag(fs.FlagSet)
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *rack == "" {
		*rack = pos[0]
	}
	if *rack == "" || len(pos) > 1 {
		return fs.Fail()
	}
	var r *rackLogin
	if _, err := updateClientConfig(e, func(cfg *clientConfig) error {
		var ok bool
		if r, ok = cfg.Racks[*rack]; !ok {
			return fmt.Errorf("unknown rack %q (%s): add it with `rack-gateway login https://GATEWAY --name %s`", *rack, cfg.known(), *rack)
		}
		cfg.Current = *rack
		return nil
	}); err != nil {
		return err
	}
	fmt.Fprintf(e.Stdout, "Current rack: %s (%s)\n", *rack, r.URL)
	t := &target{Name: *rack, URL: r.URL, ExpiresAt: r.ExpiresAt}
	if t.expired() {
		fmt.Fprintf(e.Stderr, "Its session has expired: run %s\n", t.relogin())
	}
	return nil
}

// Logout is `rack-gateway logout`.
func Logout(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "logout", "logout [NAME] [--rack NAME]")
	rack := rackFlag(fs.FlagSet)
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 1 && *rack == "" {
		*rack = pos[0]
	}
	if len(pos) > 1 {
		return fs.Fail()
	}
	cfg, _, err := loadClientConfig(e)
	if err != nil {
		return err
	}
	t, err := pickRack(e, cfg, *rack)
	if err != nil {
		return err
	}

	// End the session on the gateway (best effort): the client knows its
	// token, not its session id, so find the session marked current.
	if serr := endSession(ctx, t); serr != nil {
		fmt.Fprintf(e.Stderr, "Could not end the session on the gateway (%v); removing the local credentials anyway.\n", serr)
	}

	// Read again under the lock: others may have changed it meanwhile. A
	// login saved under this name since (another terminal) is a new
	// session, not the one just ended: it stays.
	relogged := false
	cfg, err = updateClientConfig(e, func(cfg *clientConfig) error {
		if r, ok := cfg.Racks[t.Name]; ok && r.Token != t.Token {
			relogged = true
			return nil
		}
		delete(cfg.Racks, t.Name)
		if cfg.Current == t.Name {
			cfg.Current = ""
		}
		return nil
	})
	if err != nil {
		return err
	}
	if relogged {
		fmt.Fprintf(e.Stdout, "%s (%s) was logged in again meanwhile: that newer login is kept.\n", t.Name, t.URL)
		return nil
	}
	fmt.Fprintf(e.Stdout, "Logged out of %s (%s).\n", t.Name, t.URL)
	switch {
	case len(cfg.Racks) == 0:
		fmt.Fprintf(e.Stdout, "Not logged in to any gateway now; log in again with `rack-gateway login %s --name %s`.\n", t.URL, t.Name)
	case cfg.Current == "":
		fmt.Fprintf(e.Stdout, "No current rack now; pick one with `rack-gateway switch NAME` (%s).\n", cfg.known())
	}
	return nil
}

// endSession revokes the target's own session on the gateway. A session
// the gateway no longer accepts counts as ended.
func endSession(ctx context.Context, t *target) error {
	var list []apitypes.Session
	err := rawCall(ctx, t.URL, t.Token, http.MethodGet, "/api/v1/sessions", nil, &list)
	var g *gatewayError
	if errors.As(err, &g) && g.Status == http.StatusUnauthorized {
		return nil // already expired, revoked or unknown
	}
	if err != nil {
		return explain(t, err)
	}
	for _, s := range list {
		if s.Current {
			err := rawCall(ctx, t.URL, t.Token, http.MethodDelete, "/api/v1/sessions/"+strconv.FormatInt(s.ID, 10), nil, nil)
			if errors.As(err, &g) && g.Status == http.StatusUnauthorized {
				return nil
			}
			return explain(t, err)
		}
	}
	return errors.New("the gateway did not show this session")
}

// Whoami is `rack-gateway whoami`.
func Whoami(ctx context.Context, e *cmdutil.Env, args []string) error {
	t, err := clientTargetNoArgs(e, "whoami", "whoami [--rack NAME]", args)
	if err != nil {
		return err
	}
	var me apitypes.Me
	if err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/me", &me); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 1, ' ', 0)
	fmt.Fprintf(tw, "Email:\t%s\n", me.Email)
	fmt.Fprintf(tw, "Role:\t%s\n", me.Role)
	if t.CI {
		fmt.Fprintf(tw, "Rack:\t(from RACK_GATEWAY_URL and RACK_GATEWAY_TOKEN)\n")
	} else {
		cur := ""
		if t.Current {
			cur = " (current)"
		}
		fmt.Fprintf(tw, "Rack:\t%s%s\n", t.Name, cur)
	}
	fmt.Fprintf(tw, "Gateway:\t%s\n", t.URL)
	if me.TokenName != "" {
		fmt.Fprintf(tw, "Token:\t%s\n", me.TokenName)
	}
	if !t.CI {
		fmt.Fprintf(tw, "Session:\texpires %s\n", fmtExpiry(t.ExpiresAt))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if !t.CI && (me.Email != t.Email || me.Role != t.Role) && t.Email != "" {
		fmt.Fprintf(e.Stderr, "Note: the saved login says %s (role %s); the gateway now says %s (role %s).\n",
			t.Email, t.Role, me.Email, me.Role)
	}
	return nil
}
