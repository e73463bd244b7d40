package console

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/apitypes"
	"github.com/rack-gateway/rack-gateway/internal/approval"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

// The deploy approval pages: the queue (/approvals), one request
// (/approvals/{id}) and its Approve and Reject forms. approval.Service
// decides every read and every decision (deploy:read, deploy:approve with
// a second factor on that very request, never the token's owner); what
// the pages offer is a convenience. Every field of a request came from a
// CI job: it is shown as text only (html/template escapes it, and
// plainText makes text-direction controls visible), and only http(s)
// links are links.

// recentApprovals is how many decided requests the queue shows.
const recentApprovals = 50

// approvalStatuses are the queue's ?status= filters.
var approvalStatuses = []string{store.DeployPending, store.DeployApproved, store.DeployRejected,
	store.DeployExpired, store.DeployDeployed}

// routesApprovals mounts the approval pages (with Options.Approvals).
func (c *console) routesApprovals(mux *http.ServeMux) {
	mux.HandleFunc("GET /approvals", c.page(c.approvalQueue))
	mux.HandleFunc("GET /approvals/{id}", c.page(c.approvalPage))
	mux.HandleFunc("POST /approvals/{id}/approve", c.action("/approvals", c.decideApproval(true)))
	mux.HandleFunc("POST /approvals/{id}/reject", c.action("/approvals", c.decideApproval(false)))
}

// approvalView is a request as the pages show it.
type approvalView struct {
	apitypes.DeployRequest
	Short       string   // the commit's first 12 digits
	PR, CI      string   // the links, if http(s) URLs; "" otherwise
	Lines       []string // the message, line by line
	StatusClass string   // the badge's class
}

// approvalsData is the queue page.
type approvalsData struct {
	Status   string // the filter; "" for pending, then recent
	Statuses []string
	Pending  []approvalView
	Recent   []approvalView // decided ones (or the filter's)
	NoRules  bool           // no rule asks for approvals on this gateway
}

// approvalData is a request's page.
type approvalData struct {
	Request   approvalView
	CanDecide bool   // the policy grants deploy:approve on the rack, and it is pending
	Own       bool   // the person owns the token that asked
	Window    string // the rule's deploy window, as configured
}

// approvalActor is the person of a console request, for approval.Service.
func (c *console) approvalActor(q *request) approval.Actor {
	return approval.Actor{Principal: q.p, SourceIP: q.actor.SourceIP, UserAgent: q.actor.UserAgent, RequestID: q.actor.RequestID}
}

// approvalQueue lists the requests the person may read: those waiting for
// approval first, then the most recent decided ones; or those of one
// status (?status=).
func (c *console) approvalQueue(q *request) {
	status := q.r.URL.Query().Get("status")
	if status != "" && !slices.Contains(approvalStatuses, status) {
		c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad request",
			"status must be one of "+strings.Join(approvalStatuses, ", "))
		return
	}
	ctx, a, svc := q.r.Context(), c.approvalActor(q), c.o.Approvals
	d := approvalsData{Status: status, Statuses: approvalStatuses, NoRules: len(svc.Rules()) == 0}
	if status == "" || status == store.DeployPending {
		pending, err := svc.List(ctx, a, store.DeployFilter{Status: store.DeployPending, Limit: 1000})
		if err == nil {
			d.Pending, err = c.approvalViews(ctx, a, pending, true)
		}
		if err != nil {
			c.approvalFail(q, err)
			return
		}
	}
	if status != store.DeployPending {
		recent, err := svc.List(ctx, a, store.DeployFilter{Status: status, Limit: recentApprovals})
		if err == nil {
			d.Recent, err = c.approvalViews(ctx, a, recent, false)
		}
		if err != nil {
			c.approvalFail(q, err)
			return
		}
	}
	c.render(q.w, q.r, q, http.StatusOK, "approvals", "Deploy approvals", "/approvals", d)
}

// approvalViews reads each listed request again with its approvals (a
// list has none), keeping the pending ones or the others.
func (c *console) approvalViews(ctx context.Context, a approval.Actor, list []store.DeployRequest, pending bool) ([]approvalView, error) {
	var out []approvalView
	for i := range list {
		full, err := c.o.Approvals.Get(ctx, a, list[i].ID)
		if errors.Is(err, approval.ErrNotFound) {
			continue // gone meanwhile
		} else if err != nil {
			return nil, err
		}
		if v := c.approvalView(ctx, full); (v.Status == store.DeployPending) == pending {
			out = append(out, v)
		}
	}
	return out, nil
}

// approvalPage shows one request, with the forms to approve or reject it
// when the person's role may (the service decides again).
func (c *console) approvalPage(q *request) {
	id, ok := approvalID(q)
	if !ok {
		c.renderError(q.w, q.r, q, http.StatusNotFound, "Not found", approval.ErrNotFound.Error())
		return
	}
	ctx := q.r.Context()
	dr, err := c.o.Approvals.Get(ctx, c.approvalActor(q), id)
	if err != nil {
		c.approvalFail(q, err)
		return
	}
	v := c.approvalView(ctx, dr)
	d := approvalData{Request: v, Own: q.p.UserID == dr.OwnerID, Window: duration(dr.Window),
		CanDecide: v.Status == store.DeployPending && c.grantsOn(q.p, authz.DeployApprove, dr.Rack)}
	c.render(q.w, q.r, q, http.StatusOK, "approval", "Deploy approval #"+strconv.FormatInt(id, 10), "/approvals", d)
}

// decideApproval approves or rejects a request. The policy asks for a
// second factor with this very request: the refusal is answered with the
// step-up page (fail), which posts the form back with the factor.
func (c *console) decideApproval(approve bool) handlerFunc {
	return func(q *request) {
		id, ok := approvalID(q)
		if !ok {
			c.setFlash(q.w, flash{Error: true, Msg: approval.ErrNotFound.Error()})
			http.Redirect(q.w, q.r, "/approvals", http.StatusSeeOther)
			return
		}
		ref := "request #" + strconv.FormatInt(id, 10)
		back := "/approvals/" + strconv.FormatInt(id, 10)
		comment := strings.TrimSpace(q.r.PostForm.Get("comment"))
		decide, msg := c.o.Approvals.Reject, "Rejected "+ref+": the deploy will not run."
		if approve {
			decide = c.o.Approvals.Approve
		}
		d, err := decide(q.r.Context(), c.approvalActor(q), id, comment)
		if err != nil {
			c.approvalDone(q, back, err)
			return
		}
		if approve {
			switch d.Status {
			case store.DeployApproved:
				msg = "Approved " + ref + ": the deploy may run until " + timefmt.Display(d.WindowEndsAt) + "."
			default:
				msg = "Approved " + ref + ": " + strconv.Itoa(len(d.Approvals)) + " of " + strconv.Itoa(d.Needed) +
					" approvals so far; the deploy waits for another person's."
			}
		}
		c.setFlash(q.w, flash{Msg: msg})
		http.Redirect(q.w, q.r, back, http.StatusSeeOther)
	}
}

// approvalDone answers a refused decision: the policy's refusals as every
// console action's (the step-up page, or a 403 page); the rules' (one's
// own request, not an approver, no longer pending) and mistakes as an
// error on the request's page.
func (c *console) approvalDone(q *request, back string, err error) {
	var fb *approval.Forbidden
	var rf *approval.Refused
	var inv *approval.Invalid
	switch {
	case errors.As(err, &fb):
		c.approvalFail(q, err)
		return
	case errors.Is(err, approval.ErrNotFound):
		back = "/approvals"
	case errors.As(err, &rf), errors.As(err, &inv), errors.Is(err, approval.ErrUnavailable):
	default:
		c.approvalFail(q, err)
		return
	}
	c.setFlash(q.w, flash{Error: true, Msg: err.Error()})
	http.Redirect(q.w, q.r, back, http.StatusSeeOther)
}

// approvalFail renders an error of the approval service as a page; a
// refusal of the policy goes through fail, which asks for a second
// factor when that is what is missing.
func (c *console) approvalFail(q *request, err error) {
	var fb *approval.Forbidden
	if errors.As(err, &fb) {
		c.fail(q, admin.Refusal(fb.Decision, fb.Error()))
		return
	}
	status, _ := approval.Answer(err)
	title, msg := http.StatusText(status), err.Error()
	if status == http.StatusForbidden {
		title = "Permission denied"
	}
	if status == http.StatusInternalServerError {
		c.log.Error("console: deploy approvals", "err", err, "request_id", q.actor.RequestID)
		msg = "Something went wrong; the error was logged."
	}
	c.renderError(q.w, q.r, q, status, title, msg)
}

// approvalView is d as the pages show it (its state as of now).
func (c *console) approvalView(ctx context.Context, d *store.DeployRequest) approvalView {
	v := approvalView{DeployRequest: c.o.Approvals.View(ctx, d)}
	r := &v.DeployRequest
	for _, s := range []*string{&r.Rack, &r.App, &r.Commit, &r.Branch, &r.Message, &r.Requester, &r.RejectedBy,
		&r.Comment, &r.ObjectKey, &r.BuildID, &r.ReleaseID} {
		*s = plainText(*s)
	}
	for i := range r.Approvals {
		r.Approvals[i].Email, r.Approvals[i].Comment = plainText(r.Approvals[i].Email), plainText(r.Approvals[i].Comment)
	}
	v.Short = r.Commit
	if len(v.Short) > 12 {
		v.Short = v.Short[:12]
	}
	v.PR, v.CI = webLink(r.PRURL), webLink(r.CIURL)
	if r.Message != "" {
		v.Lines = strings.Split(r.Message, "\n")
	}
	switch r.Status {
	case store.DeployPending:
		v.StatusClass = "badge alt"
	case store.DeployRejected, store.DeployExpired:
		v.StatusClass = "badge bad"
	default:
		v.StatusClass = "badge"
	}
	return v
}

// approvalID is the request id in the path.
func approvalID(q *request) (int64, bool) {
	id, err := strconv.ParseInt(q.r.PathValue("id"), 10, 64)
	return id, err == nil && id > 0
}

// grantsOn reports whether p's role on rack grants perm, whether or not a
// step-up is due: what the forms offer.
func (c *console) grantsOn(p *authz.Principal, perm authz.Permission, rack string) bool {
	d := c.policy.Decide(authz.Request{Principal: p, Permission: perm, Rack: rack})
	return d.Allow || d.Reason == authz.ReasonStepUpRequired
}

// webLink returns s if it is an absolute http(s) URL without quotes,
// spaces or angle brackets (what the service accepts), "" otherwise:
// nothing else becomes a link, whatever the store holds.
func webLink(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || plainText(s) != s ||
		strings.ContainsAny(s, " <>\"'`") {
		return ""
	}
	return s
}

// plainText replaces the characters that change the direction of text
// (which could make a hostile branch or message read as something else)
// with U+FFFD; html/template escapes the rest.
func plainText(s string) string {
	if !strings.ContainsFunc(s, bidiControl) {
		return s
	}
	return strings.Map(func(r rune) rune {
		if bidiControl(r) {
			return '\uFFFD'
		}
		return r
	}, s)
}

func bidiControl(r rune) bool {
	return r == '\u061C' || r == '\u200E' || r == '\u200F' || (r >= '\u202A' && r <= '\u202E') || (r >= '\u2066' && r <= '\u2069')
}
