package server

import (
	"context"
	"fmt"
	"os/user"
	"text/tabwriter"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

// The bootstrap verbs `admin` and `token` work on the configured database
// directly, as the operator at this terminal (no gateway needed): for the
// first admin and for recovery. Everything else goes through the gateway's
// API (the client's `users` and `tokens`).

// localActor is the operator at this terminal. Direct database access is
// already full trust, so operations are allowed and audited under this name.
func localActor() admin.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return admin.Actor{System: "cli:" + name, UserAgent: "rack-gateway-cli"}
}

// withAdmin opens the database and an auditor, runs f as the local
// operator, and flushes the audit.
func withAdmin(ctx context.Context, e *cmdutil.Env, db dbFlags, f func(s *admin.Service, a admin.Actor) error) error {
	st, err := db.open(ctx, e)
	if err != nil {
		return err
	}
	defer st.Close()
	a := audit.New(st, nil, nil)
	go a.Run()
	err = f(&admin.Service{Store: st, Audit: a}, localActor())
	if cerr := a.Close(context.Background()); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

// AdminCreateUser is `rack-gateway admin create-user`.
func AdminCreateUser(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "admin create-user", "admin create-user EMAIL --role ROLE [--name NAME] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	role := fs.String("role", "", "role: viewer, ops, deployer or admin")
	name := fs.String("name", "", "display name")
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *role == "" {
		return fs.Fail()
	}
	return withAdmin(ctx, e, db, func(s *admin.Service, a admin.Actor) error {
		u, err := s.CreateUser(ctx, a, pos[0], *name, *role)
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "created %s with role %s\n", u.Email, u.Role)
		return nil
	})
}

// AdminSetRole is `rack-gateway admin set-role`.
func AdminSetRole(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "admin set-role", "admin set-role EMAIL ROLE [--rack NAME] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	rack := fs.String("rack", "", "bind the role on this rack only")
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 2 {
		return fs.Fail()
	}
	return withAdmin(ctx, e, db, func(s *admin.Service, a admin.Actor) error {
		if *rack != "" {
			if err := s.SetRackRole(ctx, a, pos[0], *rack, pos[1]); err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "%s is %s on rack %s\n", pos[0], pos[1], *rack)
			return nil
		}
		u, err := s.UpdateUser(ctx, a, pos[0], admin.UserChange{Role: &pos[1]})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s is now %s\n", u.Email, u.Role)
		return nil
	})
}

// AdminDisable is `rack-gateway admin disable`.
func AdminDisable(ctx context.Context, e *cmdutil.Env, args []string) error {
	return adminSetDisabled(ctx, e, "disable", args)
}

// AdminEnable is `rack-gateway admin enable`.
func AdminEnable(ctx context.Context, e *cmdutil.Env, args []string) error {
	return adminSetDisabled(ctx, e, "enable", args)
}

func adminSetDisabled(ctx context.Context, e *cmdutil.Env, verb string, args []string) error {
	fs := cmdutil.NewFlags(e, "admin "+verb, "admin "+verb+" EMAIL [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fs.Fail()
	}
	return withAdmin(ctx, e, db, func(s *admin.Service, a admin.Actor) error {
		off := verb == "disable"
		u, err := s.UpdateUser(ctx, a, pos[0], admin.UserChange{Disabled: &off})
		if err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "%s %sd\n", u.Email, verb)
		return nil
	})
}

// AdminUsers is `rack-gateway admin users`.
func AdminUsers(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "admin users", "admin users [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	if err := fs.ParseNoArgs(args); err != nil {
		return err
	}
	return withAdmin(ctx, e, db, func(s *admin.Service, a admin.Actor) error {
		us, err := s.ListUsers(ctx, a)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "EMAIL\tROLE\tSTATUS\tLAST LOGIN")
		for _, u := range us {
			status := "active"
			if u.Disabled {
				status = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.Role, status, cmdutil.OrDash(u.LastLoginAt))
		}
		return tw.Flush()
	})
}
