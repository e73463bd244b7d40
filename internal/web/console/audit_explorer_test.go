package console_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"html"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/anchor"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
	"github.com/rack-gateway/rack-gateway/internal/audit/checkpoint"
	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/simrack"
	"github.com/rack-gateway/rack-gateway/internal/store"
	"github.com/rack-gateway/rack-gateway/internal/web/console"
)

// record appends events through the auditor and waits for them.
func (e *env) record(evs ...*chain.Event) {
	e.t.Helper()
	for _, ev := range evs {
		if err := e.audit.RecordSync(context.Background(), ev); err != nil {
			e.t.Fatal(err)
		}
	}
}

var mineRowRE = regexp.MustCompile(`<td>p\d@example\.com</td>\n`) // list rows, not the chart's top table

var (
	exportLinkRE = regexp.MustCompile(`<a href="(/audit/export\?[^"]+)">Export JSONL</a>`)
	csvLinkRE    = regexp.MustCompile(`<a href="(/audit/export\?[^"]+)">Export CSV</a>`)
)

// Every filter the explorer shows is carried by its export link, and the
// CSV export holds exactly the events the list shows.
func TestAuditExportHonoursEachFilter(t *testing.T) {
	e := newEnvRacks(t, "dev", "prod")
	var mine []map[string]any // the test's events, as export lines
	day := time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -3)
	for i := range 12 {
		dec, rack, app := "allow", "dev", "web"
		if i%3 == 0 {
			dec = "deny"
		}
		if i%2 == 0 {
			rack = "prod"
		}
		if i%4 == 0 {
			app = "api"
		}
		ev := &chain.Event{Time: day.Add(time.Duration(i) * 5 * time.Hour), ActorType: "user",
			Actor: fmt.Sprintf("p%d@example.com", i%3), Action: fmt.Sprintf("Act%d", i%2), App: app, Rack: rack,
			Decision: dec, Status: 200}
		e.record(ev)
		mine = append(mine, map[string]any{"actor": ev.Actor, "app": app, "action": ev.Action, "decision": dec,
			"rack": rack, "time": ev.Time.UTC().Format(time.RFC3339Nano)})
	}
	isMine := func(x map[string]any) bool {
		a, _ := x["actor"].(string)
		return len(a) == len("p0@example.com") && strings.HasPrefix(a, "p") && strings.HasSuffix(a, "@example.com")
	}
	adm := e.sessions["admin"]
	d1 := day.AddDate(0, 0, 1).Format("2006-01-02")
	for _, tc := range []struct {
		param, value string
		keep         func(x map[string]any) bool
	}{
		{"actor", "p1@example.com", func(x map[string]any) bool { return x["actor"] == "p1@example.com" }},
		{"app", "api", func(x map[string]any) bool { return x["app"] == "api" }},
		{"action", "Act1", func(x map[string]any) bool { return x["action"] == "Act1" }},
		{"decision", "deny", func(x map[string]any) bool { return x["decision"] == "deny" }},
		{"rack_filter", "prod", func(x map[string]any) bool { return x["rack"] == "prod" }},
		{"since", d1, func(x map[string]any) bool { return x["time"].(string) >= d1 }},
		{"until", d1, func(x map[string]any) bool { return x["time"].(string) < day.AddDate(0, 0, 2).Format("2006-01-02") }},
	} {
		// Events the test did not make (the admin's own reads) are kept
		// out by pairing each filter with an action or actor prefix check.
		r := e.get("/audit?"+url.Values{tc.param: {tc.value}, "limit": {"500"}}.Encode(), adm)
		if r.status != 200 {
			t.Fatalf("%s: %d", tc.param, r.status)
		}
		if !strings.Contains(r.body, `value="`+html.EscapeString(tc.value)+`"`) && tc.param != "decision" && tc.param != "rack_filter" {
			t.Errorf("%s: the form does not keep %q", tc.param, tc.value)
		}
		// Both export links carry every filter shown.
		var link string
		for _, re := range []*regexp.Regexp{exportLinkRE, csvLinkRE} {
			m := re.FindStringSubmatch(r.body)
			if m == nil {
				t.Fatalf("%s: no export link", tc.param)
			}
			link = html.UnescapeString(m[1])
			if u, _ := url.Parse(link); u.Query().Get(tc.param) != tc.value {
				t.Errorf("%s: export link %s does not carry the filter", tc.param, link)
			}
		}
		want := 0
		for _, x := range mine {
			if tc.keep(x) {
				want++
			}
		}
		if want == 0 || want == len(mine) {
			t.Fatalf("%s: the filter keeps %d of %d events; a test that cannot fail", tc.param, want, len(mine))
		}
		if listed := len(mineRowRE.FindAllString(r.body, -1)); listed != want {
			t.Errorf("%s: the list shows %d of the test's events, want %d", tc.param, listed, want)
		}
		// The CSV export holds exactly the selected events. (A JSONL export
		// bounded by time alone is the unbroken run of the chain between
		// those times, so that it verifies; export.Write's tests own that.)
		ex := e.get(link, adm)
		if ex.status != 200 {
			t.Fatalf("%s: export %d", tc.param, ex.status)
		}
		rows, err := csv.NewReader(strings.NewReader(ex.body)).ReadAll()
		if err != nil || len(rows) == 0 {
			t.Fatalf("%s: csv: %v", tc.param, err)
		}
		col := map[string]int{}
		for i, name := range rows[0] {
			col[name] = i
		}
		var n int
		for _, row := range rows[1:] {
			x := map[string]any{}
			for _, k := range []string{"actor", "app", "action", "decision", "rack", "time"} {
				x[k] = row[col[k]]
			}
			if isMine(x) {
				n++
			}
			if !tc.keep(x) {
				t.Errorf("%s=%s: the export holds %v", tc.param, tc.value, row)
			}
		}
		if n != want {
			t.Errorf("%s: the export holds %d of the test's events, want %d", tc.param, n, want)
		}
	}
	// A filter by more than time says the JSONL export is not
	// chain-verifiable; the header says so too.
	r := e.get("/audit?decision=deny", adm)
	if !strings.Contains(r.body, "cannot be chain-verified") {
		t.Error("a filtered export is not marked unverifiable")
	}
	ex := e.get("/audit/export?format=jsonl&decision=deny", adm)
	if !strings.Contains(strings.SplitN(ex.body, "\n", 2)[0], `"filtered":true`) {
		t.Errorf("export header: %s", strings.SplitN(ex.body, "\n", 2)[0])
	}
	// The same time forms as the list; bad ones are refused, nothing exported.
	if r := e.get("/audit/export?format=csv&since=2026-13-01", adm); r.status != 400 || !strings.Contains(r.body, "YYYY-MM-DD") {
		t.Errorf("bad since on export: %d", r.status)
	}
	if r := e.get("/audit/export?format=csv&since=2026-12-06&until=2026-12-05", adm); r.status != 400 || !strings.Contains(r.body, "empty") {
		t.Errorf("reversed range on export: %d", r.status)
	}
	if r := e.get("/audit/export?format=csv&decision=maybe", e.sessions["viewer"]); r.status != 403 {
		t.Errorf("viewer export with bad input: %d", r.status)
	}
}

// A date alone is the whole UTC day in the list as in the export.
func TestAuditDateOnlyIsWholeDay(t *testing.T) {
	e := newEnv(t)
	day := time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)
	for _, tm := range []time.Time{day.Add(-time.Second), day, day.Add(23*time.Hour + 59*time.Minute), day.AddDate(0, 0, 1)} {
		e.record(&chain.Event{Time: tm, ActorType: "user", Actor: "day@example.com", Action: "day.test", Decision: "allow"})
	}
	r := e.get("/audit?actor=day@example.com&since=2026-03-04&until=2026-03-04", e.sessions["admin"])
	if n := strings.Count(r.body, "day.test"); r.status != 200 || n != 2 {
		t.Errorf("one day: %d, %d rows", r.status, n)
	}
	if !strings.Contains(r.body, "2026-03-04T23:59:00Z") || !strings.Contains(r.body, "2026-03-04T00:00:00Z") {
		t.Error("times not shown in the one display format")
	}
}

func TestAuditDetailsReadable(t *testing.T) {
	e := newEnv(t)
	e.record(&chain.Event{ActorType: "user", Actor: "d@example.com", Action: "details.test", Decision: "allow",
		Details: `{"zeta":"<script>alert(1)</script>","alpha":{"n":1,"ok":true},"list":["a","b"]}`})
	r := e.get("/audit?action=details.test", e.sessions["admin"])
	if strings.Contains(r.body, "<script>alert") {
		t.Fatal("details not escaped")
	}
	want := []string{`<dt>alpha.n</dt><dd>1</dd>`, `<dt>alpha.ok</dt><dd>true</dd>`, `<dt>list</dt><dd>[&#34;a&#34;,&#34;b&#34;]</dd>`,
		`<dt>zeta</dt><dd>&lt;script&gt;alert(1)&lt;/script&gt;</dd>`}
	last := -1
	for _, w := range want {
		i := strings.Index(r.body, w)
		if i < 0 {
			t.Fatalf("details: %s missing", w)
		}
		if i < last {
			t.Errorf("details not sorted at %s", w)
		}
		last = i
	}
	if strings.Contains(r.body, `{&#34;zeta`) {
		t.Error("details shown as raw JSON")
	}
}

// auditKeyEnv is a console with the audit key and a directory of anchors.
func auditKeyEnv(t *testing.T, wrap func(store.AuditStats) store.AuditStats) (*env, *checkpoint.Runner, ed25519.PrivateKey) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	dir, err := anchor.NewDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := newEnvOpts(t, mfaOff, func(o *console.Options) {
		o.AuditKey, o.Anchors = priv.Public().(ed25519.PublicKey), dir
		if wrap != nil {
			o.AuditStore = wrap(o.AuditStore)
		}
	}, "dev")
	r := &checkpoint.Runner{Store: e.st, Signer: &checkpoint.Signer{Key: priv, Origin: "test"}, Anchors: dir}
	return e, r, priv
}

func TestAuditEventPage(t *testing.T) {
	e, runner, priv := auditKeyEnv(t, nil)
	for i := range 3 {
		e.record(&chain.Event{ActorType: "user", Actor: "ev@example.com", Action: "event.test", Decision: "allow",
			Resource: fmt.Sprint("r", i), Details: `{"k":"<b>v</b>"}`})
	}
	if err := runner.Tick(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	head, _, _ := e.st.AuditHead(context.Background())
	adm := e.sessions["admin"]
	mine, err := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "event.test", Limit: 1})
	if err != nil || len(mine) != 1 {
		t.Fatal(err)
	}
	ev2 := mine[0]
	ev1, _ := e.st.AuditEvent(context.Background(), ev2.Seq-1)
	page := fmt.Sprint("/audit/events/", ev2.Seq)
	r := e.get(page, adm)
	if r.status != 200 {
		t.Fatalf("event page: %d\n%s", r.status, r.body)
	}
	for _, w := range []string{hex.EncodeToString(ev2.Hash), hex.EncodeToString(ev1.Hash), `id="hash-ok"`, `id="sig-ok"`,
		`id="anchor-ok"`, checkpoint.KeyID(priv.Public().(ed25519.PublicKey)), fmt.Sprintf("events 1 to %d", head),
		"checkpoints/", "NOT WORM", "&lt;b&gt;v&lt;/b&gt;", "ev@example.com"} {
		if !strings.Contains(r.body, w) {
			t.Errorf("event page lacks %q", w)
		}
	}
	// The first event's previous hash is the genesis.
	if r := e.get("/audit/events/1", adm); !strings.Contains(r.body, strings.Repeat("0", 64)) || !strings.Contains(r.body, `id="hash-ok"`) {
		t.Error("event 1: genesis or hash")
	}
	// An event after the last checkpoint says so plainly.
	e.record(&chain.Event{ActorType: "user", Actor: "ev@example.com", Action: "event.late", Decision: "allow"})
	late, _, _ := e.st.AuditHead(context.Background())
	if r := e.get(fmt.Sprint("/audit/events/", late), adm); r.status != 200 || !strings.Contains(r.body, "Not yet covered by a checkpoint") {
		t.Errorf("uncovered event: %d", r.status)
	}
	for path, want := range map[string]int{"/audit/events/0": 400, "/audit/events/x": 400, "/audit/events/-3": 400,
		"/audit/events/99999": 404} {
		if r := e.get(path, adm); r.status != want {
			t.Errorf("%s: %d, want %d", path, r.status, want)
		}
	}
	// Only auditors; the refusal is audited and tells nothing.
	for _, role := range []string{"viewer", "ops", "deployer"} {
		if r := e.get(page, e.sessions[role]); r.status != 403 || strings.Contains(r.body, hex.EncodeToString(ev2.Hash)) {
			t.Errorf("%s: %d", role, r.status)
		}
	}
	if r := e.get("/audit/events/x", e.sessions["viewer"]); r.status != 403 {
		t.Errorf("viewer, bad seq: %d", r.status)
	}
	e.flush()
	if evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "audit.event", Decision: "deny"}); len(evs) < 3 {
		t.Errorf("refusals audited: %d", len(evs))
	}
	// The list links each event to its page.
	if r := e.get("/audit?action=event.test", adm); !strings.Contains(r.body, fmt.Sprintf(`<a href="/audit/events/%d">%d</a>`, ev2.Seq, ev2.Seq)) {
		t.Error("list does not link to the event page")
	}
}

// tampered changes what the store returns for one event, as an attacker
// with database access would.
type tampered struct {
	store.AuditStats
	seq int64
}

func (s tampered) AuditEvent(ctx context.Context, seq int64) (chain.Event, error) {
	e, err := s.AuditStats.AuditEvent(ctx, seq)
	if seq == s.seq {
		e.Actor = "someone-else@example.com"
	}
	return e, err
}

func TestAuditEventPageDetectsTampering(t *testing.T) {
	e, runner, _ := auditKeyEnv(t, func(s store.AuditStats) store.AuditStats { return tampered{s, 2} })
	for range 3 {
		e.record(&chain.Event{ActorType: "user", Actor: "ev@example.com", Action: "event.test", Decision: "allow"})
	}
	if err := runner.Tick(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	r := e.get("/audit/events/2", e.sessions["admin"])
	if !strings.Contains(r.body, `id="hash-bad"`) || strings.Contains(r.body, `id="hash-ok"`) {
		t.Errorf("a changed event is not caught:\n%s", r.body)
	}
	if r := e.get("/audit/events/1", e.sessions["admin"]); !strings.Contains(r.body, `id="hash-ok"`) {
		t.Error("an unchanged event is flagged")
	}
}

var barRE = regexp.MustCompile(`<g class="day"><title>([^<]*)</title>`)

func TestActivityChart(t *testing.T) {
	e := newEnv(t)
	day := time.Date(2026, 2, 10, 0, 0, 0, 0, time.UTC)
	for i, tm := range []time.Time{day.Add(time.Hour), day.Add(2 * time.Hour), day.AddDate(0, 0, 2).Add(time.Hour)} {
		dec := "allow"
		if i == 1 {
			dec = "deny"
		}
		e.record(&chain.Event{Time: tm, ActorType: "user", Actor: `<img src=x>@example.com`, Action: "chart.test", Decision: dec})
	}
	r := e.get("/audit?action=chart.test&since=2026-02-10&until=2026-02-13", e.sessions["admin"])
	if r.status != 200 {
		t.Fatalf("%d", r.status)
	}
	bars := barRE.FindAllStringSubmatch(r.body, -1)
	var titles []string
	for _, b := range bars {
		titles = append(titles, b[1])
	}
	want := []string{"2026-02-10: 2 events, 1 denied", "2026-02-11: 0 events, 0 denied", "2026-02-12: 1 events, 0 denied",
		"2026-02-13: 0 events, 0 denied"}
	if strings.Join(titles, "|") != strings.Join(want[:4], "|") && strings.Join(titles, "|") != strings.Join(want[:3], "|") {
		t.Errorf("bars: %q", titles)
	}
	if !strings.Contains(r.body, "3 events, 1 denied") {
		t.Error("totals")
	}
	if strings.Contains(r.body, "<img src=x>") || !strings.Contains(r.body, "&lt;img src=x&gt;@example.com") {
		t.Error("top actors not escaped")
	}
	svg := r.body[strings.Index(r.body, "<svg"):strings.Index(r.body, "</svg>")]
	if strings.Contains(svg, "style=") || strings.Contains(svg, "<script") || strings.Contains(svg, " on") {
		t.Error("the chart carries style or script")
	}
	// By action, and the default range (the last 14 days).
	r = e.get("/audit?by=action", e.sessions["admin"])
	if n := len(barRE.FindAllString(r.body, -1)); n != 14 || !strings.Contains(r.body, "<th>Action</th>") {
		t.Errorf("default chart: %d bars", n)
	}
	if r := e.get("/audit?by=details", e.sessions["admin"]); r.status != 400 {
		t.Errorf("bad breakdown: %d", r.status)
	}
	// A range too long for the chart still lists events.
	r = e.get("/audit?since=2020-01-01&until=2026-01-01", e.sessions["admin"])
	if r.status != 200 || !strings.Contains(r.body, "at most 366 days") {
		t.Errorf("long range: %d", r.status)
	}
}

func TestStatusPage(t *testing.T) {
	at := time.Now().Add(-90 * time.Second)
	e := newEnvOpts(t, mfaOff, func(o *console.Options) {
		o.Status = func(context.Context) (console.StatusReport, error) {
			return console.StatusReport{Database: "sqlite", Racks: []console.RackStatus{{Name: "dev", Reachable: true}},
				HeadSeq: 42, HeadHash: []byte{0xab, 0xcd}, HeadTime: at,
				LastCheckpoint: console.CheckpointStatus{Seq: 40, CreatedAt: at},
				LastAnchored:   console.CheckpointStatus{Seq: 30, CreatedAt: at, AnchoredAt: at},
				AnchorLocation: "s3://bucket/<x> (Object Lock COMPLIANCE, 2555d)",
				Sinks:          []console.SinkStatus{{Name: "webhook", Lag: 7, Sent: 100, LastError: "<b>503</b>"}}}, nil
		}
	}, "dev")
	r := e.get("/status", e.sessions["admin"])
	if r.status != 200 {
		t.Fatalf("status: %d", r.status)
	}
	for _, w := range []string{"sqlite", "abcd", `<a href="/audit/events/42">42</a>`, "at event 40", "2 events since",
		"12 events since", "1m ago", simrack.RackVersion, "s3://bucket/&lt;x&gt;", "&lt;b&gt;503&lt;/b&gt;",
		`<td class="num">7</td>`, `href="/status"`} {
		if !strings.Contains(r.body, w) {
			t.Errorf("status page lacks %q", w)
		}
	}
	for _, role := range []string{"viewer", "ops", "deployer"} {
		r := e.get("/status", e.sessions[role])
		if r.status != 403 || strings.Contains(r.body, "abcd") {
			t.Errorf("%s: %d", role, r.status)
		}
		if strings.Contains(e.get("/", e.sessions[role]).body, `href="/status"`) {
			t.Errorf("%s: nav offers the status page", role)
		}
	}
	e.flush()
	if evs, _ := e.st.ListAudit(context.Background(), store.AuditFilter{Action: "gateway.status"}); len(evs) != 4 {
		t.Errorf("status reads audited: %d, want 4", len(evs))
	}
	// Without a status source the page says so.
	e2 := newEnv(t)
	if r := e2.get("/status", e2.sessions["admin"]); r.status != 503 || !strings.Contains(r.body, "not available") {
		t.Errorf("no status source: %d", r.status)
	}
}

// The policy page lists the step-up requirements from the policy data.
func TestPolicyPageStepUp(t *testing.T) {
	e := newEnvOpts(t, mfaOff, func(o *console.Options) {
		o.Policy = &authz.Policy{StepUp: true, StepUpWindow: 10 * time.Minute}
	}, "dev")
	r := e.get("/policy", e.sessions["viewer"])
	if r.status != 200 || !strings.Contains(r.body, `id="step-up"`) {
		t.Fatalf("policy: %d", r.status)
	}
	section := r.body[strings.Index(r.body, `id="step-up"`):]
	section = section[:strings.Index(section, "</section>")]
	for _, p := range authz.All() {
		req := authz.RequirementOf(p)
		in := strings.Contains(section, "<code>"+string(p)+"</code>")
		if want := req.StepUp > authz.StepUpSignIn; in != want {
			t.Errorf("%s (%s): listed %v", p, req.StepUp.Describe(), in)
		}
	}
	// Without step-up in force there is no such section.
	if ne := newEnv(t); !strings.Contains(ne.get("/policy", ne.sessions["viewer"]).body, "Access policy") ||
		strings.Contains(ne.get("/policy", ne.sessions["viewer"]).body, `id="step-up"`) {
		t.Error("step-up section without step-up")
	}
}
