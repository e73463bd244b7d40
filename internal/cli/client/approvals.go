package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/cli/cmdutil"
)

const approvalsUsage = `deploy-approval request --rack RACK --app APP --commit SHA [--branch B] [--pr-url URL]
                        [--message TEXT] [--ci-url URL] [--wait] [--timeout 30m]
deploy-approval list [--status pending|approved|rejected|expired|deployed] [--rack RACK] [--app APP]
deploy-approval show ID
deploy-approval wait ID [--timeout 30m]
deploy-approval approve ID [--comment TEXT]
deploy-approval reject ID [--comment TEXT]

A CI job asks with its API token (RACK_GATEWAY_URL and RACK_GATEWAY_TOKEN):
until a person other than the token's owner approves, the token's deploys of
the app are refused; once approved, it may upload, build and promote that
commit once, within the approval window. --wait polls until the request is
decided: exit 0 when approved, 1 when rejected, expired or out of time.
People approve or reject (a second factor is asked for on that very call).
--rack names the gateway's rack; --gateway picks a saved login (default: the
CI variables, else the current rack).`

// pollInterval is how often --wait asks; RACK_GATEWAY_POLL_INTERVAL
// overrides it (tests).
const pollInterval = 5 * time.Second

// DeployApproval is `rack-gateway deploy-approval` and its sub-verbs.
func DeployApproval(ctx context.Context, e *cmdutil.Env, args []string) error {
	fs := cmdutil.NewFlags(e, "deploy-approval", approvalsUsage)
	gateway := fs.String("gateway", "", "a saved login's name (default: RACK_GATEWAY_URL/TOKEN, else the current one)")
	rack := fs.String("rack", "", "the gateway's rack (request: required; list: filter)")
	app := fs.String("app", "", "the app (request: required; list: filter)")
	commit := fs.String("commit", "", "the full 40-hex commit SHA to deploy")
	branch := fs.String("branch", "", "the commit's branch")
	prURL := fs.String("pr-url", "", "the pull request's URL")
	message := fs.String("message", "", "what the deploy is, for the approvers")
	ciURL := fs.String("ci-url", "", "the CI job's URL")
	wait := fs.Bool("wait", false, "wait until the request is approved (exit 0), or rejected or expired (exit 1)")
	timeout := fs.Duration("timeout", 30*time.Minute, "how long --wait and wait wait")
	status := fs.String("status", "", "list: only requests in this state")
	comment := fs.String("comment", "", "approve/reject: a comment for the record")
	if len(args) > 0 && cmdutil.IsHelpArg(args[0]) {
		fs.PrintUsage(e.Stdout)
		return cmdutil.ErrHelp
	}
	pos, err := fs.Parse(args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return fs.Fail()
	}
	if err := fs.Verb(pos, "request", "list", "show", "wait", "approve", "reject"); err != nil {
		return err
	}
	t, err := openTarget(e, *gateway)
	if err != nil {
		return err
	}
	id := func() (string, error) {
		if len(pos) != 2 {
			return "", fs.Fail()
		}
		if n, err := strconv.ParseInt(pos[1], 10, 64); err != nil || n < 1 {
			return "", fmt.Errorf("%q is not a request id (a number)", pos[1])
		}
		return pos[1], nil
	}
	switch pos[0] {
	case "request":
		if len(pos) != 1 || *rack == "" || *app == "" || *commit == "" {
			return fs.Fail()
		}
		in := apitypes.DeployRequestInput{Rack: *rack, App: *app, Commit: *commit, Branch: *branch, PRURL: *prURL,
			Message: *message, CIURL: *ciURL}
		var d apitypes.DeployRequest
		if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/deploy-approvals", in, &d); err != nil {
			return err
		}
		fmt.Fprintf(e.Stdout, "Requested deploy approval #%d for %s/%s at %s (%d approval(s) needed).\nApprove it at %s\n",
			d.ID, d.Rack, d.App, shortSHA(d.Commit), d.Needed, d.URL)
		if *wait {
			return waitDecided(ctx, e, t, strconv.FormatInt(d.ID, 10), *timeout)
		}
	case "wait":
		n, err := id()
		if err != nil {
			return err
		}
		return waitDecided(ctx, e, t, n, *timeout)
	case "list":
		if len(pos) != 1 {
			return fs.Fail()
		}
		q := url.Values{}
		for k, v := range map[string]string{"status": *status, "rack": *rack, "app": *app} {
			if v != "" {
				q.Set(k, v)
			}
		}
		path := "/api/v1/deploy-approvals"
		if len(q) > 0 {
			path += "?" + q.Encode()
		}
		var list []apitypes.DeployRequest
		if err := gatewayCall(ctx, t, http.MethodGet, path, &list); err != nil {
			return err
		}
		tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tSTATUS\tRACK/APP\tCOMMIT\tBRANCH\tAPPROVALS\tREQUESTER\tCREATED")
		for _, d := range list {
			fmt.Fprintf(tw, "%d\t%s\t%s/%s\t%s\t%s\t%d/%d\t%s\t%s\n", d.ID, d.Status, d.Rack, d.App, shortSHA(d.Commit),
				cmdutil.OrDash(cmdutil.Printable(d.Branch)), len(d.Approvals), d.Needed, cmdutil.Printable(d.Requester), cmdutil.When(d.CreatedAt))
		}
		return tw.Flush()
	case "show":
		n, err := id()
		if err != nil {
			return err
		}
		var d apitypes.DeployRequest
		if err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/deploy-approvals/"+n, &d); err != nil {
			return err
		}
		printRequest(e.Stdout, &d)
	case "approve", "reject":
		n, err := id()
		if err != nil {
			return err
		}
		if t.CI {
			return errors.New("an API token cannot approve or reject: a person does, logged in (rack-gateway login)")
		}
		var d apitypes.DeployRequest
		if err := gatewayCallBody(ctx, t, http.MethodPost, "/api/v1/deploy-approvals/"+n+"/"+pos[0],
			apitypes.DeployDecision{Comment: *comment}, &d); err != nil {
			return err
		}
		switch {
		case pos[0] == "reject":
			fmt.Fprintf(e.Stdout, "Rejected deploy approval #%d.\n", d.ID)
		case d.Status == "approved":
			fmt.Fprintf(e.Stdout, "Approved deploy approval #%d: %s/%s at %s may deploy until %s.\n", d.ID, d.Rack, d.App,
				shortSHA(d.Commit), d.WindowEndsAt)
		default:
			fmt.Fprintf(e.Stdout, "Added your approval to #%d (%d of %d).\n", d.ID, len(d.Approvals), d.Needed)
		}
	default:
		return fs.Fail()
	}
	return nil
}

// waitDecided polls request id until it is decided, printing each change
// of state on stderr.
func waitDecided(ctx context.Context, e *cmdutil.Env, t *target, id string, timeout time.Duration) error {
	every := pollInterval
	if v, err := time.ParseDuration(e.Getenv("RACK_GATEWAY_POLL_INTERVAL")); err == nil && v > 0 {
		every = v
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := ""
	for {
		var d apitypes.DeployRequest
		err := gatewayCall(ctx, t, http.MethodGet, "/api/v1/deploy-approvals/"+id, &d)
		if err != nil && ctx.Err() == nil {
			return err
		}
		if err == nil {
			if line := fmt.Sprintf("#%d %s (%d of %d approvals)", d.ID, d.Status, len(d.Approvals), d.Needed); line != last {
				fmt.Fprintf(e.Stderr, "%s  %s\n", time.Now().UTC().Format("15:04:05"), line)
				last = line
			}
			switch d.Status {
			case "approved", "deployed":
				fmt.Fprintf(e.Stdout, "Deploy approval #%d approved; deploy until %s.\n", d.ID, d.WindowEndsAt)
				return nil
			case "rejected":
				msg := fmt.Sprintf("deploy approval #%d was rejected", d.ID)
				if d.RejectedBy != "" {
					msg += " by " + cmdutil.Printable(d.RejectedBy)
				}
				if d.Comment != "" {
					msg += ": " + cmdutil.Printable(d.Comment)
				}
				return errors.New(msg)
			case "expired":
				return fmt.Errorf("deploy approval #%d expired without approval", d.ID)
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("deploy approval #%s was not decided within %s (still %s); approve it at %s/approvals/%s",
				id, timeout, strings.TrimPrefix(last, "#"+id+" "), t.URL, id)
		case <-time.After(every):
		}
	}
}

func printRequest(w io.Writer, d *apitypes.DeployRequest) {
	p := cmdutil.Printable
	fmt.Fprintf(w, "Deploy approval #%d: %s\n", d.ID, d.Status)
	rows := [][2]string{
		{"rack/app", d.Rack + "/" + d.App}, {"commit", d.Commit}, {"branch", p(d.Branch)}, {"pull request", p(d.PRURL)},
		{"CI job", p(d.CIURL)}, {"message", p(d.Message)}, {"requested by", p(d.Requester)}, {"requested", cmdutil.When(d.CreatedAt)},
		{"expires", cmdutil.When(d.ExpiresAt)}, {"approvals", fmt.Sprintf("%d of %d", len(d.Approvals), d.Needed)},
		{"approved", d.ApprovedAt}, {"window ends", d.WindowEndsAt}, {"rejected by", p(d.RejectedBy)},
		{"comment", p(d.Comment)}, {"object", p(d.ObjectKey)}, {"build", p(d.BuildID)}, {"release", p(d.ReleaseID)},
		{"deployed", d.DeployedAt}, {"page", d.URL},
	}
	for _, r := range rows {
		if r[1] != "" {
			fmt.Fprintf(w, "  %-13s %s\n", r[0], r[1])
		}
	}
	for _, a := range d.Approvals {
		line := "  approved by   " + p(a.Email) + " at " + a.At
		if a.Comment != "" {
			line += ": " + p(a.Comment)
		}
		fmt.Fprintln(w, line)
	}
}

func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}
