package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"
)

// These commands administer the gateway through its API with your login
// session (or CI token): the server authorizes every call, so they work
// only for roles that may do the thing. `admin` and `token` are the local
// bootstrap verbs that write to the database directly.
func init() {
	register("users", "list and manage gateway users through the gateway (admin)", runUsers)
	register("sessions", "list and revoke login sessions through the gateway", runSessions)
	register("tokens", "list, create and revoke API tokens through the gateway", runTokens)
}

// gatewayCallBody is gatewayCall with a JSON body.
func gatewayCallBody(ctx context.Context, t *target, method, path string, in, out any) error {
	return explain(t, rawCall(ctx, t.URL, t.Token, method, path, in, out))
}

// clientTarget parses flags with --rack and resolves the gateway.
func clientTarget(e *Env, name, usage string, args []string, setup func(fs *flag.FlagSet)) (*target, []string, error) {
	fs := newFlags(e, name, usage)
	rack := rackFlag(fs)
	if setup != nil {
		setup(fs)
	}
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, nil, errUsage
	}
	t, err := openTarget(e, *rack)
	if err != nil {
		return nil, nil, err
	}
	return t, pos, nil
}

// clientTargetNoArgs is clientTarget for commands that take only --rack.
func clientTargetNoArgs(e *Env, name, usage string, args []string) (*target, error) {
	fs := newFlags(e, name, usage)
	rack := rackFlag(fs)
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return nil, errUsage
	}
	if len(pos) != 0 {
		fs.Usage()
		return nil, errUsage
	}
	return openTarget(e, *rack)
}

// openTarget resolves the rack a command talks to (CI variables allowed)
// and refuses a saved session known to have expired.
func openTarget(e *Env, rack string) (*target, error) {
	t, err := resolveTarget(e, rack, true)
	if err != nil {
		return nil, err
	}
	if t.expired() {
		return nil, t.errExpired()
	}
	return t, nil
}

const usersUsage = `users [--rack NAME]                          list users
users add EMAIL --role ROLE [--name NAME]    add a user
users set-role EMAIL ROLE [--on RACK]        change a role (globally, or on one rack; ROLE "" removes a rack role)
users disable EMAIL | users enable EMAIL`

func runUsers(ctx context.Context, e *Env, args []string) error {
	var role, name, on *string
	t, pos, err := clientTarget(e, "users", usersUsage, args, func(f *flag.FlagSet) {
		role = f.String("role", "", "role for users add")
		name = f.String("name", "", "display name for users add")
		on = f.String("on", "", "with set-role: the rack the role applies to")
	})
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		var users []struct {
			Email       string            `json:"email"`
			Name        string            `json:"name"`
			Role        string            `json:"role"`
			RackRoles   map[string]string `json:"rack_roles"`
			Disabled    bool              `json:"disabled"`
			LastLoginAt string            `json:"last_login_at"`
		}
		if err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/users", &users); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tNAME\tROLE\tRACK ROLES\tSTATUS\tLAST LOGIN")
		for _, u := range users {
			var rr []string
			for r, ro := range u.RackRoles {
				rr = append(rr, r+"="+ro)
			}
			sort.Strings(rr)
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, orDash(u.Name), u.Role, orDash(strings.Join(rr, ",")), status, orDash(u.LastLoginAt))
		}
		return tw.Flush()
	case pos[0] == "add" && len(pos) == 2 && *role != "":
		if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/users", map[string]string{"email": pos[1], "name": *name, "role": *role}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "added %s as %s\n", pos[1], *role)
	case pos[0] == "set-role" && len(pos) == 3:
		path := "/api/v1/users/" + url.PathEscape(pos[1])
		if *on != "" {
			if err := gatewayCallBody(ctx, t, http.MethodPut, path+"/racks/"+url.PathEscape(*on), map[string]string{"role": pos[2]}, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "%s is now %s on rack %s (their login sessions were ended)\n", pos[1], orDash(pos[2]), *on)
			return nil
		}
		if err := gatewayCallBody(ctx, t, http.MethodPatch, path, map[string]string{"role": pos[2]}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s is now %s (their login sessions were ended)\n", pos[1], pos[2])
	case (pos[0] == "disable" || pos[0] == "enable") && len(pos) == 2:
		if err := gatewayCallBody(ctx, t, http.MethodPatch, "/api/v1/users/"+url.PathEscape(pos[1]), map[string]bool{"disabled": pos[0] == "disable"}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%sd %s\n", pos[0], pos[1])
	default:
		fmt.Fprintln(e.Stderr, "Usage: rack-gateway "+strings.ReplaceAll(usersUsage, "\n", "\n       rack-gateway "))
		return errUsage
	}
	return nil
}

const sessionsUsage = `sessions [--user EMAIL | --all]   list login sessions (your own by default)
sessions revoke ID                 end one session
sessions revoke-user EMAIL         end every session of a user (admin)`

func runSessions(ctx context.Context, e *Env, args []string) error {
	var user *string
	var all *bool
	t, pos, err := clientTarget(e, "sessions", sessionsUsage, args, func(f *flag.FlagSet) {
		user = f.String("user", "", "list this user's sessions (admin)")
		all = f.Bool("all", false, "list everyone's sessions (admin)")
	})
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		q := ""
		if *all {
			q = "?user=*"
		} else if *user != "" {
			q = "?user=" + url.QueryEscape(*user)
		}
		var list []struct {
			ID         int64  `json:"id"`
			User       string `json:"user"`
			Kind       string `json:"kind"`
			Name       string `json:"name"`
			SourceIP   string `json:"source_ip"`
			LastSeenAt string `json:"last_seen_at"`
			ExpiresAt  string `json:"expires_at"`
			Revoked    bool   `json:"revoked"`
			Current    bool   `json:"current"`
		}
		if err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/sessions"+q, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tUSER\tKIND\tNAME\tFROM\tLAST SEEN\tEXPIRES\tSTATUS")
		for _, s := range list {
			status := "active"
			if s.Revoked {
				status = "revoked"
			}
			if s.Current {
				status += " (this session)"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.User, s.Kind, orDash(s.Name), orDash(s.SourceIP), s.LastSeenAt, s.ExpiresAt, status)
		}
		return tw.Flush()
	case pos[0] == "revoke" && len(pos) == 2:
		if err := gatewayCall(ctx, t, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(pos[1]), nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "revoked session %s\n", pos[1])
	case pos[0] == "revoke-user" && len(pos) == 2:
		var out struct {
			Sessions int64 `json:"sessions"`
		}
		if err := gatewayCall(ctx, t, http.MethodDelete, "/api/v1/users/"+url.PathEscape(pos[1])+"/sessions", &out); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "revoked %d session(s) of %s\n", out.Sessions, pos[1])
	default:
		fmt.Fprintln(e.Stderr, "Usage: rack-gateway "+strings.ReplaceAll(sessionsUsage, "\n", "\n       rack-gateway "))
		return errUsage
	}
	return nil
}

const tokensUsage = `tokens [--all]                                           list API tokens (yours; everyone's with --all, admin)
tokens create NAME [--permissions P,...] [--expires 720h] [--owner EMAIL]   mint a token (shown once)
tokens revoke ID`

func runTokens(ctx context.Context, e *Env, args []string) error {
	var all *bool
	var perms, expires, owner *string
	t, pos, err := clientTarget(e, "tokens", tokensUsage, args, func(f *flag.FlagSet) {
		all = f.Bool("all", false, "everyone's tokens (admin)")
		perms = f.String("permissions", "", "comma-separated scope (default: follow the owner's role)")
		expires = f.String("expires", "", "lifetime like 720h (default: no expiry)")
		owner = f.String("owner", "", "mint for another user (admin)")
	})
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		q := ""
		if *all {
			q = "?all=1"
		}
		var list []struct {
			ID          int64    `json:"id"`
			Name        string   `json:"name"`
			Prefix      string   `json:"prefix"`
			Owner       string   `json:"owner"`
			Permissions []string `json:"permissions"`
			ExpiresAt   string   `json:"expires_at"`
			LastUsedAt  string   `json:"last_used_at"`
			Revoked     bool     `json:"revoked"`
		}
		if err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/tokens"+q, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tPREFIX\tOWNER\tSCOPE\tEXPIRES\tLAST USED\tSTATUS")
		for _, tk := range list {
			status := "active"
			if tk.Revoked {
				status = "revoked"
			}
			scope := strings.Join(tk.Permissions, ",")
			if scope == "*" {
				scope = "follows role"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", tk.ID, tk.Name, tk.Prefix, tk.Owner, scope, orDash(tk.ExpiresAt), orDash(tk.LastUsedAt), status)
		}
		return tw.Flush()
	case pos[0] == "create" && len(pos) == 2:
		req := map[string]any{"name": pos[1]}
		if *perms != "" {
			req["permissions"] = strings.Split(*perms, ",")
		}
		if *expires != "" {
			req["expires_in"] = *expires
		}
		if *owner != "" {
			req["owner"] = *owner
		}
		var out struct {
			Token string `json:"token"`
		}
		if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/tokens", req, &out); err != nil {
			return err
		}
		fmt.Fprintf(e.Stderr, "token %q created; it is shown only once:\n", pos[1])
		fmt.Fprintln(e.Stdout, out.Token)
	case pos[0] == "revoke" && len(pos) == 2:
		if err := gatewayCall(ctx, t, http.MethodDelete, "/api/v1/tokens/"+url.PathEscape(pos[1]), nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "revoked token %s\n", pos[1])
	default:
		fmt.Fprintln(e.Stderr, "Usage: rack-gateway "+strings.ReplaceAll(tokensUsage, "\n", "\n       rack-gateway "))
		return errUsage
	}
	return nil
}
