package cli

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/rack-gateway/rack-gateway/internal/admin"
)

func init() {
	register("token", "API tokens on the configured database: create, list, revoke", runToken)
}

func runToken(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "Usage: rack-gateway token create --user EMAIL --name NAME [--permissions P,...] [--expires 720h] | list | revoke ID")
		return errUsage
	}
	verb := args[0]
	fs := newFlags(e, "token "+verb, "token "+verb+" [flags] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	owner := fs.String("user", "", "owner's email: the token acts as this user, within the user's role")
	name := fs.String("name", "", "token name, e.g. ci-deploy")
	perms := fs.String("permissions", "", "comma-separated scope (default: follow the owner's current role), e.g. app:read,build:create")
	expires := fs.String("expires", "", "lifetime like 720h (default: no expiry)")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return errUsage
	}
	st, err := db.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	a := localActor()
	return withService(ctx, st, func(s *admin.Service) error {
		switch verb {
		case "create":
			req := admin.TokenRequest{Name: *name, Owner: *owner, ExpiresIn: *expires}
			if *perms != "" {
				req.Permissions = strings.Split(*perms, ",")
			}
			if req.Owner == "" || req.Name == "" {
				return fmt.Errorf("usage: token create --user EMAIL --name NAME [--permissions P,...] [--expires 720h]")
			}
			t, err := s.CreateToken(ctx, a, req)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stderr, "token %q for %s (id %d); it is shown only once:\n", t.Detail.Name, t.Detail.Owner, t.Detail.ID)
			fmt.Fprintln(e.Stdout, t.Token)
		case "list":
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
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s…\t%s\t%s\t%s\n", t.ID, t.Name, t.Owner, t.Prefix, orDash(t.ExpiresAt), orDash(t.LastUsedAt), status)
			}
			return tw.Flush()
		case "revoke":
			if len(pos) != 1 {
				return fmt.Errorf("usage: token revoke ID")
			}
			id, err := strconv.ParseInt(pos[0], 10, 64)
			if err != nil {
				return fmt.Errorf("token id must be a number")
			}
			if err := s.RevokeToken(ctx, a, id); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "token %d revoked\n", id)
		default:
			return fmt.Errorf("unknown token verb %q (create, list, revoke)", verb)
		}
		return nil
	})
}
