package client

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// These commands administer the gateway through its API with your login
// session (or CI token): the server authorizes every call, so they work
// only for roles that may do the thing. `admin` and `token` are the local
// bootstrap verbs that write to the database directly.
//
// Their sub-verbs share one flag set, so flags may come before the sub-verb
// (`users --rack prod add EMAIL --role ops`).

// clientTarget parses flags with --rack, checks that the first positional
// argument, if any, is one of verbs (before the config is read: a typo is
// a usage error with a suggestion, logged in or not) and resolves the
// gateway; fs is for fs.Fail when the arguments turn out wrong.
func clientTarget(e *cmdutil.Env, name, usage string, verbs []string, args []string, setup func(fs *flag.FlagSet)) (t *target, pos []string, fs *cmdutil.Flags, err error) {
	fs = cmdutil.NewFlags(e, name, usage)
	rack := rackFlag(fs.FlagSet)
	if setup != nil {
		setup(fs.FlagSet)
	}
	if pos, err = fs.Parse(args); err != nil {
		return nil, nil, nil, err
	}
	if err = fs.Verb(pos, verbs...); err != nil {
		return nil, nil, nil, err
	}
	if t, err = openTarget(e, *rack); err != nil {
		return nil, nil, nil, err
	}
	return t, pos, fs, nil
}

// clientTargetNoArgs is clientTarget for commands that take only --rack.
func clientTargetNoArgs(e *cmdutil.Env, name, usage string, args []string) (*target, error) {
	fs := cmdutil.NewFlags(e, name, usage)
	rack := rackFlag(fs.FlagSet)
	pos, err := fs.Parse(args)
	if err != nil {
		return nil, err
	}
	if len(pos) != 0 {
		return nil, fs.Fail()
	}
	return openTarget(e, *rack)
}

// openTarget resolves the rack a command talks to (CI variables allowed)
// and refuses a saved session known to have expired.
func openTarget(e *cmdutil.Env, rack string) (*target, error) {
	t, err := resolveTarget(e, rack, true)
	if err != nil {
		return nil, err
	}
	t.prompt = newPrompter(e)
	if !t.CI {
		t.prompt.browser = func() (string, error) { return browserVerify(e, t) }
	}
	if t.expired() {
		return nil, t.errExpired()
	}
	return t, nil
}

const usersUsage = `users [--rack NAME]                          list users
users add EMAIL --role ROLE [--name NAME]    add a user
users set-role EMAIL ROLE [--on RACK]        change a role (globally, or on one rack; ROLE "" removes a rack role)
users disable EMAIL                          disable a user
users enable EMAIL                           enable a disabled user
users mfa EMAIL                              show a user's second factors
users unlock-mfa EMAIL                       let a user locked out by failed second factors try again
users reset-mfa EMAIL                        remove a user's second factors (lost device): they enrol again`

// usersVerbs are the sub-verbs Users knows (the command table in
// internal/cli names the same; its tests check that).
var usersVerbs = []string{"add", "set-role", "disable", "enable", "mfa", "unlock-mfa", "reset-mfa"}

// Users is `rack-gateway users` and its sub-verbs.
func Users(ctx context.Context, e *cmdutil.Env, args []string) error {
	var role, name, on *string
	t, pos, fs, err := clientTarget(e, "users", usersUsage, usersVerbs, args, func(f *flag.FlagSet) {
		role = f.String("role", "", "role for users add")
		name = f.String("name", "", "display name for users add")
		on = f.String("on", "", "with set-role: the rack the role applies to")
	})
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		var users []apitypes.User
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
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, cmdutil.OrDash(u.Name), u.Role, cmdutil.OrDash(strings.Join(rr, ",")), status, cmdutil.OrDash(u.LastLoginAt))
		}
		return tw.Flush()
	case pos[0] == "add" && len(pos) == 2 && *role != "":
		if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/users", apitypes.CreateUserRequest{Email: pos[1], Name: *name, Role: *role}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "added %s as %s\n", pos[1], *role)
	case pos[0] == "set-role" && len(pos) == 3:
		path := "/api/v1/users/" + url.PathEscape(pos[1])
		if *on != "" {
			if err := gatewayCallBody(ctx, t, http.MethodPut, path+"/racks/"+url.PathEscape(*on), apitypes.SetRackRoleRequest{Role: pos[2]}, nil); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "%s is now %s on rack %s (their login sessions were ended)\n", pos[1], cmdutil.OrDash(pos[2]), *on)
			return nil
		}
		if err := gatewayCallBody(ctx, t, http.MethodPatch, path, apitypes.UserChange{Role: &pos[2]}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s is now %s (their login sessions were ended)\n", pos[1], pos[2])
	case (pos[0] == "disable" || pos[0] == "enable") && len(pos) == 2:
		disabled := pos[0] == "disable"
		if err := gatewayCallBody(ctx, t, http.MethodPatch, "/api/v1/users/"+url.PathEscape(pos[1]), apitypes.UserChange{Disabled: &disabled}, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%sd %s\n", pos[0], pos[1])
	case pos[0] == "mfa" && len(pos) == 2:
		var st apitypes.MFAStatus
		if err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/users/"+url.PathEscape(pos[1])+"/mfa", &st); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s: %d second factors, %d backup codes left", pos[1], len(st.Methods), st.BackupCodes)
		if st.Locked {
			fmt.Fprint(e.Stdout, ", LOCKED")
		}
		fmt.Fprintln(e.Stdout)
		for _, m := range st.Methods {
			fmt.Fprintf(e.Stdout, "  %-8s %s (added %s)\n", m.Kind, cmdutil.Printable(m.Name), cmdutil.When(m.CreatedAt))
		}
	case pos[0] == "unlock-mfa" && len(pos) == 2:
		if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/users/"+url.PathEscape(pos[1])+"/mfa/unlock", nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "unlocked the second factors of %s\n", pos[1])
	case pos[0] == "reset-mfa" && len(pos) == 2:
		if err := gatewayCallBody(ctx, t, http.MethodDelete, "/api/v1/users/"+url.PathEscape(pos[1])+"/mfa", nil, nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "removed the second factors of %s and ended their sessions; they enrol again at their next sign-in\n", pos[1])
	default:
		return fs.Fail()
	}
	return nil
}

const sessionsUsage = `sessions [--user EMAIL | --all]   list login sessions (your own by default)
sessions revoke ID                 end one session
sessions revoke-user EMAIL         end every session of a user (admin)`

var sessionsVerbs = []string{"revoke", "revoke-user"}

// Sessions is `rack-gateway sessions` and its sub-verbs.
func Sessions(ctx context.Context, e *cmdutil.Env, args []string) error {
	var user *string
	var all *bool
	t, pos, fs, err := clientTarget(e, "sessions", sessionsUsage, sessionsVerbs, args, func(f *flag.FlagSet) {
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
		var list []apitypes.Session
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
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.User, s.Kind, cmdutil.OrDash(s.Name), cmdutil.OrDash(s.SourceIP), cmdutil.When(s.LastSeenAt), cmdutil.When(s.ExpiresAt), status)
		}
		return tw.Flush()
	case pos[0] == "revoke" && len(pos) == 2:
		if err := gatewayCall(ctx, t, http.MethodDelete, "/api/v1/sessions/"+url.PathEscape(pos[1]), nil); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "revoked session %s\n", pos[1])
	case pos[0] == "revoke-user" && len(pos) == 2:
		var out apitypes.RevokedSessions
		if err := gatewayCall(ctx, t, http.MethodDelete, "/api/v1/users/"+url.PathEscape(pos[1])+"/sessions", &out); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "revoked %d session(s) of %s\n", out.Sessions, pos[1])
	default:
		return fs.Fail()
	}
	return nil
}

const tokensUsage = `tokens [--all]                                           list API tokens (yours; everyone's with --all, admin)
tokens create NAME [--permissions P,...] [--expires 720h] [--owner EMAIL]   mint a token (shown once)
tokens revoke ID`

var tokensVerbs = []string{"create", "revoke"}

// Tokens is `rack-gateway tokens` and its sub-verbs.
func Tokens(ctx context.Context, e *cmdutil.Env, args []string) error {
	var all *bool
	var perms, expires, owner *string
	t, pos, fs, err := clientTarget(e, "tokens", tokensUsage, tokensVerbs, args, func(f *flag.FlagSet) {
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
		var list []apitypes.Token
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
			fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\t%s\t%s\n", tk.ID, tk.Name, tk.Prefix, tk.Owner, scope, cmdutil.When(tk.ExpiresAt), cmdutil.When(tk.LastUsedAt), status)
		}
		return tw.Flush()
	case pos[0] == "create" && len(pos) == 2:
		req := apitypes.TokenRequest{Name: pos[1], Owner: *owner, ExpiresIn: *expires}
		if *perms != "" {
			req.Permissions = strings.Split(*perms, ",")
		}
		var out apitypes.CreatedToken
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
		return fs.Fail()
	}
	return nil
}
