package cli

import (
	"context"
	"fmt"
	"os/user"
	"strings"
	"text/tabwriter"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

func init() {
	register("admin", "bootstrap users on the configured database: create-user, set-role, disable, enable, users", runAdmin)
}

// localActor is the operator at this terminal. Direct database access is
// already full trust, so operations are allowed and audited under this name.
func localActor() admin.Actor {
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return admin.Actor{System: "cli:" + name, UserAgent: "rack-gateway-cli"}
}

// withService opens the store and an auditor, runs f, and flushes the audit.
func withService(ctx context.Context, st store.Store, f func(*admin.Service) error) error {
	a := audit.New(st, nil, nil)
	go a.Run()
	err := f(&admin.Service{Store: st, Audit: a})
	if cerr := a.Close(context.Background()); err == nil && cerr != nil {
		err = cerr
	}
	return err
}

func runAdmin(ctx context.Context, e *Env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintln(e.Stderr, "Usage: rack-gateway admin create-user EMAIL --role ROLE [--name NAME] | set-role EMAIL ROLE | disable EMAIL | enable EMAIL | users")
		return errUsage
	}
	verb := args[0]
	fs := newFlags(e, "admin "+verb, "admin "+verb+" [args] [--config FILE | --data DIR]")
	db := addDBFlags(fs, e)
	role := fs.String("role", "", "role: viewer, ops, deployer or admin")
	name := fs.String("name", "", "display name")
	rack := fs.String("rack", "", "with set-role: bind the role on this rack only")
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
		case "create-user":
			if len(pos) != 1 || *role == "" {
				return fmt.Errorf("usage: admin create-user EMAIL --role ROLE [--name NAME]")
			}
			u, err := s.CreateUser(ctx, a, pos[0], *name, *role)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "created %s with role %s\n", u.Email, u.Role)
		case "set-role":
			if len(pos) != 2 {
				return fmt.Errorf("usage: admin set-role EMAIL ROLE [--rack NAME]")
			}
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
		case "disable", "enable":
			if len(pos) != 1 {
				return fmt.Errorf("usage: admin %s EMAIL", verb)
			}
			off := verb == "disable"
			u, err := s.UpdateUser(ctx, a, pos[0], admin.UserChange{Disabled: &off})
			if err != nil {
				return err
			}
			fmt.Fprintf(e.Stdout, "%s %sd\n", u.Email, verb)
		case "users":
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
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", u.Email, u.Role, status, orDash(u.LastLoginAt))
			}
			return tw.Flush()
		default:
			return fmt.Errorf("unknown admin verb %q (create-user, set-role, disable, enable, users)", verb)
		}
		return nil
	})
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}
