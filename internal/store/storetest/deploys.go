package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/clock"
	"github.com/rack-gateway/rack-gateway/internal/store"
)

var deployTests = []subtest{
	{"Deploys/Lifecycle", testDeployLifecycle},
	{"Deploys/NofM", testDeployNofM},
	{"Deploys/Expiry", testDeployExpiry},
	{"Deploys/Reject", testDeployReject},
	{"Deploys/StepsOnce", testDeployStepsOnce},
	{"Deploys/List", testDeployList},
}

// deployFixture is a CI token's owner, the token and two approvers.
type deployFixture struct {
	owner, alice, bob *store.User
	tok               *store.APIToken
}

func newDeployFixture(t *testing.T, s store.Store) deployFixture {
	f := deployFixture{
		owner: mustUser(t, s, "ci-owner@example.com", "deployer"),
		alice: mustUser(t, s, "alice@example.com", "admin"),
		bob:   mustUser(t, s, "bob@example.com", "admin"),
	}
	f.tok = mustToken(t, s, "ci", f.owner.ID)
	return f
}

func (f deployFixture) request(t *testing.T, s store.Store, clk *clock.Fake, app string, needed int) *store.DeployRequest {
	t.Helper()
	d := &store.DeployRequest{Rack: "production", App: app, Commit: "0123456789abcdef0123456789abcdef01234567",
		Branch: "main", PRURL: "https://github.com/o/r/pull/7", Message: "fix", CIURL: "https://ci/1",
		TokenID: f.tok.ID, OwnerID: f.owner.ID, Requester: "token ci of ci-owner@example.com",
		Needed: needed, Window: 15 * time.Minute, ExpiresAt: clk.Now().Add(24 * time.Hour)}
	must(t, "create request", s.CreateDeployRequest(ctx(t), d))
	return d
}

func testDeployLifecycle(t *testing.T, s store.Store, clk *clock.Fake) {
	f := newDeployFixture(t, s)
	created := clk.Now()
	d := f.request(t, s, clk, "web", 1)
	if d.ID == 0 || d.Status != store.DeployPending {
		t.Fatalf("created %+v", d)
	}
	got, err := s.GetDeployRequest(ctx(t), d.ID)
	must(t, "get", err)
	checkTime(t, "CreatedAt", got.CreatedAt, created)
	if got.Commit != d.Commit || got.PRURL != d.PRURL || got.Window != 15*time.Minute || got.Needed != 1 ||
		got.TokenID != f.tok.ID || got.OwnerID != f.owner.ID || len(got.Approvals) != 0 || got.ObjectKey != "" {
		t.Fatalf("read back %+v", got)
	}
	_, err = s.GetDeployRequest(ctx(t), 9999)
	wantErr(t, "a missing request", err, store.ErrNotFound)
	latest, err := s.LatestDeployRequest(ctx(t), f.tok.ID, "production", "web")
	must(t, "latest", err)
	if latest.ID != d.ID {
		t.Fatalf("latest = %d", latest.ID)
	}
	_, err = s.LatestDeployRequest(ctx(t), f.tok.ID, "production", "api")
	wantErr(t, "latest for another app", err, store.ErrNotFound)

	// No step before the approval.
	wantErr(t, "upload before approval", s.ClaimDeployStep(ctx(t), d.ID, store.StepObject, "k"), store.ErrConflict)

	approvedAt := clk.Advance(time.Minute)
	got, err = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.alice.ID, Email: f.alice.Email, Comment: "ok"})
	must(t, "approve", err)
	if got.Status != store.DeployApproved || len(got.Approvals) != 1 || got.Approvals[0].Comment != "ok" {
		t.Fatalf("after approval %+v", got)
	}
	checkTime(t, "ApprovedAt", got.ApprovedAt, approvedAt)
	checkTime(t, "WindowEndsAt", got.WindowEndsAt, approvedAt.Add(15*time.Minute))
	_, err = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.bob.ID, Email: f.bob.Email})
	wantErr(t, "approving an approved request", err, store.ErrConflict)
	_, err = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: 9999, UserID: f.bob.ID, Email: f.bob.Email})
	wantErr(t, "approving a missing request", err, store.ErrNotFound)

	// Upload, build, promote: each once, in order.
	wantErr(t, "build before upload", s.ClaimDeployStep(ctx(t), d.ID, store.StepBuild, store.StepPending), store.ErrConflict)
	must(t, "claim upload", s.ClaimDeployStep(ctx(t), d.ID, store.StepObject, "tmp/src.tgz"))
	wantErr(t, "a second upload", s.ClaimDeployStep(ctx(t), d.ID, store.StepObject, "tmp/other.tgz"), store.ErrConflict)
	must(t, "finish upload", s.FinishDeployStep(ctx(t), d.ID, store.StepObject, "tmp/src.tgz", true))
	must(t, "claim build", s.ClaimDeployStep(ctx(t), d.ID, store.StepBuild, store.StepPending))
	wantErr(t, "promote while the build is in flight", s.ClaimDeployStep(ctx(t), d.ID, store.StepRelease, "R1"), store.ErrConflict)
	must(t, "finish build", s.FinishDeployStep(ctx(t), d.ID, store.StepBuild, "B1", true))
	wantErr(t, "a second build", s.ClaimDeployStep(ctx(t), d.ID, store.StepBuild, store.StepPending), store.ErrConflict)
	must(t, "claim promote", s.ClaimDeployStep(ctx(t), d.ID, store.StepRelease, "R1"))
	deployedAt := clk.Advance(time.Minute)
	must(t, "finish promote", s.FinishDeployStep(ctx(t), d.ID, store.StepRelease, "R1", true))
	got, _ = s.GetDeployRequest(ctx(t), d.ID)
	if got.Status != store.DeployDeployed || got.ObjectKey != "tmp/src.tgz" || got.BuildID != "B1" || got.ReleaseID != "R1" {
		t.Fatalf("deployed %+v", got)
	}
	checkTime(t, "DeployedAt", got.DeployedAt, deployedAt)
	wantErr(t, "a second promote", s.ClaimDeployStep(ctx(t), d.ID, store.StepRelease, "R2"), store.ErrConflict)
}

// A failed call gives its step back; the same step can then be tried again.
func testDeployStepsOnce(t *testing.T, s store.Store, clk *clock.Fake) {
	f := newDeployFixture(t, s)
	d := f.request(t, s, clk, "web", 1)
	_, err := s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.alice.ID, Email: f.alice.Email})
	must(t, "approve", err)
	must(t, "claim", s.ClaimDeployStep(ctx(t), d.ID, store.StepObject, "a.tgz"))
	must(t, "give back", s.FinishDeployStep(ctx(t), d.ID, store.StepObject, "a.tgz", false))
	must(t, "record a failed source check", s.SetSourceCheck(ctx(t), d.ID, "service web: image x does not match"))
	if got, _ := s.GetDeployRequest(ctx(t), d.ID); got.SourceCheck != "service web: image x does not match" {
		t.Fatalf("source check %q", got.SourceCheck)
	}
	wantErr(t, "source check of a missing request", s.SetSourceCheck(ctx(t), 9999, ""), store.ErrNotFound)
	if got, _ := s.GetDeployRequest(ctx(t), d.ID); got.ObjectKey != "" {
		t.Fatalf("after giving back: object %q", got.ObjectKey)
	}
	// Racing claims: exactly one wins.
	var wg sync.WaitGroup
	var mu sync.Mutex
	won := 0
	for range 8 {
		wg.Go(func() {
			if s.ClaimDeployStep(ctx(t), d.ID, store.StepObject, "b.tgz") == nil {
				mu.Lock()
				won++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if won != 1 {
		t.Fatalf("racing upload claims: %d won, want 1", won)
	}
	// Giving back another value's claim does nothing.
	must(t, "give back a stale claim", s.FinishDeployStep(ctx(t), d.ID, store.StepObject, "a.tgz", false))
	if got, _ := s.GetDeployRequest(ctx(t), d.ID); got.ObjectKey != "b.tgz" {
		t.Fatalf("a stale give-back cleared the claim: %q", got.ObjectKey)
	}
}

// N of M: the request is approved by the Nth distinct person; one person
// approving twice counts once (and is refused).
func testDeployNofM(t *testing.T, s store.Store, clk *clock.Fake) {
	f := newDeployFixture(t, s)
	d := f.request(t, s, clk, "web", 2)
	got, err := s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.alice.ID, Email: f.alice.Email})
	must(t, "first", err)
	if got.Status != store.DeployPending || !got.WindowEndsAt.IsZero() {
		t.Fatalf("after one of two: %+v", got)
	}
	_, err = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.alice.ID, Email: f.alice.Email})
	wantErr(t, "the same person again", err, store.ErrConflict)
	got, err = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.bob.ID, Email: f.bob.Email})
	must(t, "second", err)
	if got.Status != store.DeployApproved || len(got.Approvals) != 2 {
		t.Fatalf("after two of two: %+v", got)
	}

	// Racing last approvals of a 2-of-3 request by three people: the
	// request is approved, with every approval that got in recorded.
	carol := mustUser(t, s, "carol@example.com", "admin")
	d2 := f.request(t, s, clk, "api", 2)
	var wg sync.WaitGroup
	for _, u := range []*store.User{f.alice, f.bob, carol} {
		wg.Go(func() {
			_, _ = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d2.ID, UserID: u.ID, Email: u.Email})
		})
	}
	wg.Wait()
	got, _ = s.GetDeployRequest(ctx(t), d2.ID)
	if got.Status != store.DeployApproved || len(got.Approvals) < 2 {
		t.Fatalf("racing approvals: %s with %d approvals", got.Status, len(got.Approvals))
	}
}

// Time runs out: a pending request cannot be approved after its expiry, an
// approved one's window closes its steps, and the sweep stores both.
func testDeployExpiry(t *testing.T, s store.Store, clk *clock.Fake) {
	f := newDeployFixture(t, s)
	pending := f.request(t, s, clk, "web", 1)
	approved := f.request(t, s, clk, "api", 1)
	_, err := s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: approved.ID, UserID: f.alice.ID, Email: f.alice.Email})
	must(t, "approve", err)
	if swept, err := s.ExpireDeployRequests(ctx(t)); err != nil || len(swept) != 0 {
		t.Fatalf("sweep before anything ran out: %v %v", swept, err)
	}
	clk.Advance(15 * time.Minute) // the window has ended
	wantErr(t, "upload after the window", s.ClaimDeployStep(ctx(t), approved.ID, store.StepObject, "k"), store.ErrConflict)
	got, _ := s.GetDeployRequest(ctx(t), approved.ID)
	if got.Effective(clk.Now()) != store.DeployExpired || got.Effective(clk.Now().Add(-time.Minute)) != store.DeployApproved {
		t.Fatalf("effective state of an approved request: %s", got.Effective(clk.Now()))
	}
	clk.Advance(24 * time.Hour)
	_, err = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: pending.ID, UserID: f.alice.ID, Email: f.alice.Email})
	wantErr(t, "approving an expired request", err, store.ErrConflict)
	_, err = s.RejectDeployRequest(ctx(t), pending.ID, f.alice.ID, "")
	wantErr(t, "rejecting an expired request", err, store.ErrConflict)
	swept, err := s.ExpireDeployRequests(ctx(t))
	must(t, "sweep", err)
	if len(swept) != 2 || swept[0].Status != store.DeployExpired || swept[1].Status != store.DeployExpired {
		t.Fatalf("swept %+v", swept)
	}
	if again, _ := s.ExpireDeployRequests(ctx(t)); len(again) != 0 {
		t.Fatalf("swept twice: %+v", again)
	}
	got, _ = s.GetDeployRequest(ctx(t), pending.ID)
	if got.Status != store.DeployExpired {
		t.Fatalf("stored state %s", got.Status)
	}
}

func testDeployReject(t *testing.T, s store.Store, clk *clock.Fake) {
	f := newDeployFixture(t, s)
	d := f.request(t, s, clk, "web", 2)
	_, err := s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.alice.ID, Email: f.alice.Email})
	must(t, "approve one of two", err)
	got, err := s.RejectDeployRequest(ctx(t), d.ID, f.bob.ID, "not this one")
	must(t, "reject", err)
	if got.Status != store.DeployRejected || got.DecidedBy != f.bob.ID || got.Comment != "not this one" {
		t.Fatalf("rejected %+v", got)
	}
	_, err = s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: d.ID, UserID: f.bob.ID, Email: f.bob.Email})
	wantErr(t, "approving a rejected request", err, store.ErrConflict)
	_, err = s.RejectDeployRequest(ctx(t), d.ID, f.bob.ID, "")
	wantErr(t, "rejecting twice", err, store.ErrConflict)
	_, err = s.RejectDeployRequest(ctx(t), 9999, f.bob.ID, "")
	wantErr(t, "rejecting a missing request", err, store.ErrNotFound)
}

func testDeployList(t *testing.T, s store.Store, clk *clock.Fake) {
	f := newDeployFixture(t, s)
	var ids []int64
	for i, app := range []string{"web", "api", "web", "worker"} {
		ids = append(ids, f.request(t, s, clk, app, 1).ID)
		if i == 1 {
			_, err := s.ApproveDeployRequest(ctx(t), store.DeployApproval{RequestID: ids[i], UserID: f.alice.ID, Email: f.alice.Email})
			must(t, "approve", err)
		}
	}
	other := mustToken(t, s, "other", f.owner.ID)
	d := &store.DeployRequest{Rack: "staging", App: "web", Commit: "c", TokenID: other.ID, OwnerID: f.owner.ID,
		Requester: "x", Needed: 1, Window: time.Minute, ExpiresAt: clk.Now().Add(time.Hour)}
	must(t, "create on staging", s.CreateDeployRequest(ctx(t), d))
	bad := *d
	bad.TokenID = 9999
	wantErr(t, "a request for a missing token", s.CreateDeployRequest(ctx(t), &bad), store.ErrNotFound)
	for _, c := range []struct {
		f    store.DeployFilter
		want []int64
	}{
		{store.DeployFilter{}, []int64{d.ID, ids[3], ids[2], ids[1], ids[0]}},
		{store.DeployFilter{App: "web", Rack: "production"}, []int64{ids[2], ids[0]}},
		{store.DeployFilter{Status: store.DeployApproved}, []int64{ids[1]}},
		{store.DeployFilter{TokenID: other.ID}, []int64{d.ID}},
		{store.DeployFilter{BeforeID: ids[2], Limit: 1}, []int64{ids[1]}},
	} {
		got, err := s.ListDeployRequests(ctx(t), c.f)
		must(t, "list", err)
		var gotIDs []int64
		for _, r := range got {
			gotIDs = append(gotIDs, r.ID)
		}
		if !slices.Equal(gotIDs, c.want) {
			t.Errorf("list %+v: %v, want %v", c.f, gotIDs, c.want)
		}
	}
	if got, _ := s.ListDeployRequests(ctx(t), store.DeployFilter{App: "none"}); got == nil {
		t.Error("an empty list is nil")
	}
}
