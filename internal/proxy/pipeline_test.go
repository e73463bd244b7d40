package proxy

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rack-gateway/rack-gateway/internal/authz"
	"github.com/rack-gateway/rack-gateway/internal/routes"
)

// The order of the stages is part of the design: a reader finds it in
// pipeline(), and security depends on it (nobody is authorized before the
// route is known, nothing is written ahead before every check has passed).
func TestPipelineOrder(t *testing.T) {
	h := testHandler()
	var names []string
	for _, s := range h.pipeline() {
		names = append(names, s.name)
	}
	want := []string{"rate-limit", "audit-room", "rack", "path", "route", "authenticate", "cross-site", "authorize", "step-up", "parameters", "approval", "guard", "write-ahead"}
	if !slices.Equal(names, want) {
		t.Fatalf("stages %v, want %v", names, want)
	}
}

// Every guard the route table names is registered, and a table naming an
// unknown guard is refused at start-up rather than forwarded unchecked.
func TestGuardRegistry(t *testing.T) {
	if err := checkGuards(routes.Table()); err != nil {
		t.Fatal(err)
	}
	bad := []routes.Route{{Name: "X", Method: http.MethodPost, Path: "/x", Guard: routes.Guard("no-such-guard")}}
	if err := checkGuards(bad); err == nil || !strings.Contains(err.Error(), "no-such-guard") {
		t.Fatalf("unregistered guard: %v", err)
	}
}

// A decision the stages did not refuse is still not forwarded unless it
// allows: step-up and approval answers are refused by their own stages,
// and serve refuses anything else that slipped through.
func TestStepUpAndApprovalStagesRefuse(t *testing.T) {
	h := testHandler()
	rt := route(t, "ProcessExec")
	for _, d := range []authz.Decision{
		{Reason: authz.ReasonStepUpRequired, StepUp: authz.StepUpRecent, Permission: authz.ProcessExec},
		{Reason: authz.ReasonApprovalRequired, Permission: authz.BuildCreate},
	} {
		c := &call{route: rt, decision: d, r: httptest.NewRequest("GET", "/apps/x/processes/p/exec", nil)}
		f := h.stepUp(c)
		if f == nil {
			f = h.approval(c)
		}
		if f == nil || f.reason != d.Reason || f.status != http.StatusForbidden {
			t.Errorf("%s: refusal %+v", d.Reason, f)
		}
		if d.Reason == authz.ReasonStepUpRequired && f.mfaLevel != "recent" {
			t.Errorf("a step-up refusal names level %q, want recent", f.mfaLevel)
		}
	}
	c := &call{route: rt, decision: authz.Decision{Allow: true, Reason: authz.ReasonAllowed},
		r: httptest.NewRequest("GET", "/apps/x/processes/p/exec", nil)}
	if h.stepUp(c) != nil || h.approval(c) != nil {
		t.Error("an allowed call was refused by the step-up or approval stage")
	}
}

// A quiet refusal (the CLI's probes) is a bare 404, neither audited nor
// counted (refuse would need an auditor otherwise).
func TestQuietRefusal(t *testing.T) {
	h := testHandler()
	rec := httptest.NewRecorder()
	h.refuse(&call{w: rec}, &refusal{status: http.StatusNotFound, quiet: true})
	if rec.Code != http.StatusNotFound || strings.TrimSpace(rec.Body.String()) != "not found" {
		t.Fatalf("quiet refusal: %d %q", rec.Code, rec.Body.String())
	}
}
