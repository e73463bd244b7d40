package console

import (
	"errors"
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
)

const defaultAuditPage = 50

// auditForm is the filter form as given (echoed back into the inputs).
type auditForm struct {
	Actor, App, Action, Decision, Rack string
	Since, Until                       string // datetime-local, UTC
	Limit                              int
}

type auditRow struct {
	chain.Event
	DetailsShort string
	DetailsLong  bool
}

type auditData struct {
	Form       auditForm
	Racks      []string
	PageSizes  []int
	Events     []auditRow
	Error      string
	Older      string // link to the next (older) page; "" on the last
	Newest     string // link to the first page with the same filters; "" on it
	ExportJSON string
	ExportCSV  string
}

// datetime-local inputs send minutes or seconds without a zone; they are
// read as UTC. RFC 3339 is accepted too.
func parseUTC(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date and time (YYYY-MM-DDTHH:MM, UTC)", s)
}

func readAuditForm(v url.Values) (auditForm, store.AuditFilter, error) {
	fm := auditForm{Actor: strings.TrimSpace(v.Get("actor")), App: strings.TrimSpace(v.Get("app")),
		Action: strings.TrimSpace(v.Get("action")), Decision: v.Get("decision"), Rack: v.Get("rack_filter"),
		Since: v.Get("since"), Until: v.Get("until"), Limit: defaultAuditPage}
	f := store.AuditFilter{Actor: fm.Actor, App: fm.App, Action: fm.Action, Decision: fm.Decision, Rack: fm.Rack}
	var errs []error
	if fm.Decision != "" && fm.Decision != "allow" && fm.Decision != "deny" {
		errs = append(errs, fmt.Errorf("decision must be allow or deny"))
	}
	var err error
	if f.Since, err = parseUTC(fm.Since); err != nil {
		errs = append(errs, fmt.Errorf("since: %w", err))
	}
	if f.Until, err = parseUTC(fm.Until); err != nil {
		errs = append(errs, fmt.Errorf("until: %w", err))
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > store.MaxAuditLimit {
			errs = append(errs, fmt.Errorf("page size must be 1 to %d", store.MaxAuditLimit))
		} else {
			fm.Limit = n
		}
	}
	f.Limit = fm.Limit
	if s := v.Get("before"); s != "" {
		if f.BeforeID, err = strconv.ParseInt(s, 10, 64); err != nil || f.BeforeID < 1 {
			errs = append(errs, fmt.Errorf("before must be an event id"))
		}
	}
	return fm, f, errors.Join(errs...)
}

// values returns the filters as query parameters, for links.
func (fm auditForm) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"actor": fm.Actor, "app": fm.App, "action": fm.Action, "decision": fm.Decision,
		"rack_filter": fm.Rack, "since": fm.Since, "until": fm.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	if fm.Limit != defaultAuditPage {
		v.Set("limit", strconv.Itoa(fm.Limit))
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

// audit is the audit log viewer (gateway:audit, decided by admin.ListAudit).
func (c *console) audit(q *request) {
	fm, f, perr := readAuditForm(q.r.URL.Query())
	d := auditData{Form: fm, Racks: c.o.Racks, PageSizes: []int{25, 50, 100, 200, 500}}
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
			row := auditRow{Event: e, DetailsShort: e.Details}
			if len(e.Details) > 160 {
				row.DetailsShort, row.DetailsLong = e.Details[:160]+"…", true
			}
			d.Events = append(d.Events, row)
		}
	}
	ex := url.Values{}
	for k, s := range map[string]string{"actor": fm.Actor, "app": fm.App, "since": fm.Since, "until": fm.Until} {
		if s != "" {
			ex.Set(k, s)
		}
	}
	ex.Set("format", "jsonl")
	d.ExportJSON = "/audit/export?" + ex.Encode()
	ex.Set("format", "csv")
	d.ExportCSV = "/audit/export?" + ex.Encode()
	c.render(q.w, q.r, q, status, "audit", "Audit log", "/audit", d)
}

// auditExport streams an export through admin.ExportAudit, which
// authorizes and audits it: ?format=jsonl|csv&actor=&app=&since=&until=.
func (c *console) auditExport(q *request) {
	v := q.r.URL.Query()
	o := export.Options{Format: v.Get("format"), App: strings.TrimSpace(v.Get("app")), Actor: strings.TrimSpace(v.Get("actor"))}
	if o.Format == "" {
		o.Format = "jsonl"
	}
	var err1, err2 error
	o.Since, err1 = parseUTC(v.Get("since"))
	o.Until, err2 = parseUTC(v.Get("until"))
	if err := errors.Join(err1, err2); err != nil || o.Format != "jsonl" && o.Format != "csv" {
		if !c.gate(q, authz.GatewayAudit) {
			return
		}
		msg := "format is jsonl or csv"
		if err != nil {
			msg = err.Error()
		}
		c.renderError(q.w, q.r, q, http.StatusBadRequest, "Bad export request", msg)
		return
	}
	ctype, ext := "application/x-ndjson", "jsonl"
	if o.Format == "csv" {
		ctype, ext = "text/csv; charset=utf-8", "csv"
	}
	started := false
	err := c.o.Admin.ExportAudit(q.r.Context(), q.actor, o, func() io.Writer {
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
