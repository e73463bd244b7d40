package server

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// TokenCreate is `rack-gateway token create`.
func TokenCreate(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "token create", "token create --user EMAIL --name NAME [--permissions P,...] [--expires 720h] [--config FILE | --data DIR]\n\n"+
		"Mints an API token and prints it once (on stdout).")
	db := addDBFlags(fs, e)
	owner := fs.String("user", "", "owner's email: the token acts as this user, within the user's role")
	name := fs.String("name", "", "token name, e.g. ci-deploy")
	perms := fs.String("permissions", "", "comma-separated scope (default: follow the owner's current role), e.g. app:read,build:create")
	expires := fs.String("expires", "", "lifetime like 720h (default: no expiry)")
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	if *owner == "" || *name == "" {
		return fs.Fail()
	}
	req := admin.TokenRequest{Name: *name, Owner: *owner, ExpiresIn: *expires}
	if *perms != "" {
		req.Permissions = strings.Split(*perms, ",")
	}
	return withAdmin(ctx, e, db, func(s *admin.Service, a admin.Actor) error {
		t, err := s.CreateToken(ctx, a, req)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stderr, "token %q for %s (id %d); it is shown only once:\n", t.Detail.Name, t.Detail.Owner, t.Detail.ID)
		fmt.Fprintln(e.Stdout, t.Token)
		return nil
	})
}

// TokenList is `rack-gateway token list`.
func TokenList(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "token list", "token list [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	return withAdmin(ctx, e, db, func(s *admin.Service, a admin.Actor) error {
		ts, err := s.ListTokens(ctx, a, true)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tOWNER\tPREFIX\tEXPIRES\tLAST USED\tSTATUS")
		for _, t := range ts {
			status := "active"
			if t.Revoked {
				status = "revoked"
			}
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.Name, t.Owner, t.Prefix, cmdutil.When(t.ExpiresAt), cmdutil.When(t.LastUsedAt), status)
		}
		return tw.Flush()
	})
}

// TokenRevoke is `rack-gateway token revoke`.
func TokenRevoke(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "token revoke", "token revoke ID [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fs.Fail()
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil {
		return fmt.Errorf("token id must be a number")
	}
	return withAdmin(ctx, e, db, func(s *admin.Service, a admin.Actor) error {
		if err := s.RevokeToken(ctx, a, id); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "token %d revoked\n", id)
		return nil
	})
}
