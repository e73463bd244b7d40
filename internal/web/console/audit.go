package console

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/admin"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/export"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/timefmt"
)

const defaultAuditPage = 50

// auditForm is the filter form as given (echoed back into the inputs).
type auditForm struct {
	Actor, App, Action, Decision, Rack string
	Since, Until                       string // as typed: timefmt's forms
	Limit                              int
	By                                 string // the chart's breakdown: actor or action
}

type auditRow struct {
	chain.Event
	Lines []detailLine // the details, readable
}

type auditData struct {
	Form       auditForm
	Forms      string // the accepted time forms, for the inputs' hint
	Racks      []string
	PageSizes  []int
	Events     []auditRow
	Error      string
	Older      string // link to the next (older) page; "" on the last
	Newest     string // link to the first page with the same filters; "" on it
	ExportJSON string
	ExportCSV  string
	Filtered   bool // the exports skip events other than by time (not chain-verifiable)
	Chart      *activityChart
}

// readAuditForm reads the explorer's filters, which the list, the chart
// and the exports share.
func readAuditForm(v url.Values) (auditForm, store.AuditFilter, error) {
	fm := auditForm{Actor: strings.TrimSpace(v.Get("actor")), App: strings.TrimSpace(v.Get("app")),
		Action: strings.TrimSpace(v.Get("action")), Decision: v.Get("decision"), Rack: v.Get("rack_filter"),
		Since: strings.TrimSpace(v.Get("since")), Until: strings.TrimSpace(v.Get("until")), Limit: defaultAuditPage,
		By: v.Get("by")}
	f := store.AuditFilter{Actor: fm.Actor, App: fm.App, Action: fm.Action, Decision: fm.Decision, Rack: fm.Rack}
	var errs []string
	if fm.Decision != "" && fm.Decision != "allow" && fm.Decision != "deny" {
		errs = append(errs, "decision must be allow or deny")
	}
	switch fm.By {
	case "":
		fm.By = store.ByActor
	case store.ByActor, store.ByAction:
	default:
		errs = append(errs, "the chart's breakdown is by actor or by action")
		fm.By = store.ByActor
	}
	var err error
	if f.Since, f.Until, err = timefmt.ParseRange(fm.Since, fm.Until); err != nil {
		errs = append(errs, err.Error())
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			errs = append(errs, fmt.Sprintf("page size must be 1 to %d", store.MaxAuditLimit))
		} else {
			fm.Limit = n
		}
	}
	f.Limit = fm.Limit
	if s := v.Get("before"); s != "" {
		if f.BeforeID, err = strconv.ParseInt(s, 10, 64); err != nil || f.BeforeID < 1 {
			errs = append(errs, "before must be an event id")
		}
	}
	if len(errs) > 0 {
		return fm, f, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return fm, f, nil
}

// filters returns the filters shown in the form as query parameters: what
// every link of the page (paging, exports, chart) carries.
func (fm auditForm) filters() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"actor": fm.Actor, "app": fm.App, "action": fm.Action, "decision": fm.Decision,
		"rack_filter": fm.Rack, "since": fm.Since, "until": fm.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// values returns the filters, page size and breakdown, for the list's
// links.
func (fm auditForm) values() url.Values {
	v := fm.filters()
	if fm.Limit != defaultAuditPage {
		v.Set("limit", strconv.Itoa(fm.Limit))
	}
	if fm.By != store.ByActor {
		v.Set("by", fm.By)
	}
	return v
}

// gate refuses a caller without perm before input errors are reported, so
// a refused caller learns nothing from the input checks. It returns false
// when it has answered.
func (c *console) gate(q *request, perm authz.Permission) bool {
	d := c.policy.Decide(authz.Request{Principal: q.p, Permission: perm})
	if d.Allow {
		return true
	}
	c.fail(q, admin.Refusal(d, fmt.Sprintf("permission denied: role %q lacks %s", d.Role, perm)))
	return false
}

// audit is the audit explorer (gateway:audit, decided by admin.ListAudit):
// the filtered events, newest first, a page at a time (keyset paging by
// event id, so a deep page costs what the first does), with the activity
// chart of the filtered range.
func (c *console) audit(q *request) {
	fm, f, perr := readAuditForm(q.r.URL.Query())
	d := auditData{Form: fm, Forms: timefmt.Forms, Racks: c.o.Racks, PageSizes: []int{25, 50, 100, 200, 500}}
	if !slices.Contains(d.PageSizes, fm.Limit) {
		d.PageSizes = append(d.PageSizes, fm.Limit)
		slices.Sort(d.PageSizes)
	}
	status := http.StatusOK
	if perr != nil {
		if !c.gate(q, authz.GatewayAudit) {
			return
		}
		d.Error, status = perr.Error(), http.StatusBadRequest
	} else {
		f.Limit = fm.Limit + 1 // one more tells whether there is an older page
		evs, err := c.o.Admin.ListAudit(q.r.Context(), q.actor, f)
		if err != nil {
			c.fail(q, err)
			return
		}
		if len(evs) > fm.Limit {
			evs = evs[:fm.Limit]
			v := fm.values()
			v.Set("before", strconv.FormatInt(evs[len(evs)-1].ID, 10))
			d.Older = "/audit?" + v.Encode()
		}
		if f.BeforeID != 0 {
			d.Newest = "/audit"
			if v := fm.values(); len(v) > 0 {
				d.Newest += "?" + v.Encode()
			}
		}
		for _, e := range evs {
			d.Events = append(d.Events, auditRow{Event: e, Lines: shortLines(detailLines(e.Details))})
		}
		d.Chart = c.activity(q, fm, f)
	}
	ex := fm.filters()
	d.Filtered = ex.Has("actor") || ex.Has("app") || ex.Has("action") || ex.Has("decision") || ex.Has("rack_filter")
	ex.Set("format", "jsonl")
	d.ExportJSON = "/audit/export?" + ex.Encode()
	ex.Set("format", "csv")
	d.ExportCSV = "/audit/export?" + ex.Encode()
	c.render(q.w, q.r, q, status, "audit", "Audit log", "/audit", d)
}

// auditExport streams an export through admin.ExportAudit, which
// authorizes and audits it, with the explorer's filters (the same
// parameters and time forms): ?format=jsonl|csv&actor=&app=&action=
// &decision=&rack_filter=&since=&until=.
func (c *console) auditExport(q *request) {
	v := q.r.URL.Query()
	_, f, err := readAuditForm(v)
	format := v.Get("format")
	if format == "" {
		format = "jsonl"
	}
	if err == nil && format != "jsonl" && format != "csv" {
		err = fmt.Errorf("format is jsonl or csv")
	}
	if err != nil {
		if !c.gate(q, authz.GatewayAudit) {
			return
		}
		c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad export request", err.Error())
		return
	}
	o := export.Options{Format: format, Since: f.Since, Until: f.Until, App: f.App, Actor: f.Actor,
		Action: f.Action, Decision: f.Decision, Rack: f.Rack}
	ctype, ext := "application/x-ndjson", "jsonl"
	if o.Format == "csv" {
		ctype, ext = "text/csv; charset=utf-8", "csv"
	}
	started := false
	err = c.o.Admin.ExportAudit(q.r.Context(), q.actor, o, func() io.Writer {
		started = true
		h := q.w.Header()
		h.Set("Content-Type", ctype)
		h.Set("Content-Disposition", fmt.Sprintf(`attachment; filename="rack-gateway-audit-%s.%s"`,
			time.Now().UTC().Format("20060102T150405Z"), ext))
		return q.w
	})
	if err != nil {
		if !started {
			c.fail(q, err)
			return
		}
		// Once streaming, a failure can only cut the export short; a
		// truncated JSONL export then fails verification.
		c.log.Warn("console: audit export cut short", "err", err, "request_id", q.actor.RequestID)
	}
}
