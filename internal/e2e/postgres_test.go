package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rack-gateway/rack-gateway/internal/store/postgres/pgtest"
)

// TestTwoGatewaysOnePostgresChain runs two gateway processes on one
// PostgreSQL database and hammers both: their audit events must form one
// gapless chain that "audit verify" accepts.
func TestTwoGatewaysOnePostgresChain(t *testing.T) {
	dsn := pgtest.FreshSchema(t)
	s := newSetup(t, dsn)
	gwA, baseA := s.serve(t, "gateway-a")
	gwB, baseB := s.serve(t, "gateway-b")

	const (
		workers   = 8  // per gateway
		mutations = 40 // per worker: 320 per gateway
		reads     = 5  // per worker: 40 per gateway
		// pause between a worker's calls, so that the burst spans several
		// checkpoint polls (1s) and both replicas make checkpoints while
		// the other is appending.
		pause = 60 * time.Millisecond
	)
	type tally struct {
		mu                sync.Mutex
		mutOK, readOK     int
		mutIDs            []string
		failures          []string
		ua                string
		base              string
		mutSent, readSent int
	}
	tallies := []*tally{{ua: "rgw-e2e-gateway-a", base: baseA}, {ua: "rgw-e2e-gateway-b", base: baseB}}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 2 * workers}}
	var wg sync.WaitGroup
	for _, tl := range tallies {
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i < mutations+reads; i++ {
					mut := i%((mutations+reads)/reads) != 0
					method, path := http.MethodPost, mutatePath
					if !mut {
						method, path = http.MethodGet, readPath
					}
					r := call(client, method, tl.base+path, s.token, tl.ua, "")
					tl.mu.Lock()
					if mut {
						tl.mutSent++
					} else {
						tl.readSent++
					}
					switch {
					case r.err != nil || r.status != http.StatusOK:
						tl.failures = append(tl.failures, fmt.Sprintf("%s %s: status %d err %v", method, path, r.status, r.err))
					case mut:
						tl.mutOK++
						tl.mutIDs = append(tl.mutIDs, r.requestID)
					default:
						tl.readOK++
					}
					tl.mu.Unlock()
					time.Sleep(pause)
				}
			}()
		}
	}
	wg.Wait()
	for _, tl := range tallies {
		if len(tl.failures) > 0 {
			t.Errorf("%s: %d of %d calls failed; first: %s", tl.ua, len(tl.failures), tl.mutSent+tl.readSent, tl.failures[0])
		}
		t.Logf("%s: %d mutating + %d read calls answered 200", tl.ua, tl.mutOK, tl.readOK)
	}
	gwA.stop(t)
	gwB.stop(t)

	s.verify(t)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())

	var total, chained, minSeq, maxSeq, distinct int64
	err = conn.QueryRow(ctx, `SELECT count(*), count(seq), coalesce(min(seq),0), coalesce(max(seq),0), count(DISTINCT seq) FROM audit_events`).
		Scan(&total, &chained, &minSeq, &maxSeq, &distinct)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("audit_events: %d rows, %d chained, seq %d..%d", total, chained, minSeq, maxSeq)
	if chained != total || minSeq != 1 || maxSeq != total || distinct != total {
		t.Errorf("chain is not seq 1..N gapless: rows=%d chained=%d min=%d max=%d distinct=%d", total, chained, minSeq, maxSeq, distinct)
	}
	var nullHash int64
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE hash IS NULL`).Scan(&nullHash); err != nil {
		t.Fatal(err)
	}
	if nullHash != 0 {
		t.Errorf("%d events have no chain hash", nullHash)
	}

	minCalls := int64(0)
	for _, tl := range tallies {
		// Each allowed mutating call is audited twice (attempt, outcome);
		// each read once.
		want := int64(2*tl.mutOK + tl.readOK)
		minCalls += int64(tl.mutSent + tl.readSent)
		var got int64
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE user_agent = $1`, tl.ua).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s: %d audit events, want %d (2 × %d mutating + %d reads)", tl.ua, got, want, tl.mutOK, tl.readOK)
		}
		if got == 0 {
			t.Errorf("%s contributed no events to the chain", tl.ua)
		}
	}
	if total < minCalls {
		t.Errorf("%d audit events for %d calls", total, minCalls)
	}

	// Every mutating call has exactly one attempt and one outcome.
	phases := map[string]map[string]int{}
	rows, err := conn.Query(ctx, `SELECT request_id, details FROM audit_events WHERE route = 'ServiceRestart'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, details string
		if err := rows.Scan(&id, &details); err != nil {
			t.Fatal(err)
		}
		var d struct {
			Phase string `json:"phase"`
		}
		_ = json.Unmarshal([]byte(details), &d)
		if phases[id] == nil {
			phases[id] = map[string]int{}
		}
		phases[id][d.Phase]++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for _, tl := range tallies {
		for _, id := range tl.mutIDs {
			if p := phases[id]; p["attempt"] != 1 || p["outcome"] != 1 {
				t.Errorf("request %s (%s): phases %v, want one attempt and one outcome", id, tl.ua, p)
			}
		}
	}

	// Interleaving: the chain alternates between the gateways, not two
	// sequential runs (a weak check that both really wrote concurrently).
	var switches int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM (
		SELECT user_agent, lag(user_agent) OVER (ORDER BY seq) AS prev FROM audit_events WHERE user_agent LIKE 'rgw-e2e-%') x
		WHERE prev IS NOT NULL AND prev <> user_agent`).Scan(&switches)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the chain switches between gateways %d times", switches)
	if switches < 2 {
		t.Errorf("events of the two gateways barely interleave (%d switches): were they concurrent?", switches)
	}

	var checkpoints, anchored, lastCP int64
	if err := conn.QueryRow(ctx, `SELECT count(*), count(anchored_at), coalesce(max(seq),0) FROM audit_checkpoints`).
		Scan(&checkpoints, &anchored, &lastCP); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d checkpoints, %d anchored, newest at seq %d", checkpoints, anchored, lastCP)
	if checkpoints < 2 {
		t.Errorf("%d checkpoints; want several made while both gateways ran", checkpoints)
	}
	if anchored != checkpoints || lastCP != total {
		t.Errorf("after graceful stops every checkpoint should be anchored and the last cover the head: %d/%d anchored, newest %d, head %d",
			anchored, checkpoints, lastCP, total)
	}
}
