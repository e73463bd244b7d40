package audit_test

import (
	"context"
	"testing"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit"
	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

func benchEvent() *chain.Event {
	return &chain.Event{Time: time.Now(), RequestID: audit.NewRequestID(), Rack: "dev", ActorType: "token",
		Actor: "ci@example.com", Action: "AppList", Method: "GET", Path: "/apps", Decision: "allow", Reason: "allowed",
		Status: 200}
}

// BenchmarkEnqueue is what a read's audit record costs the call: taking
// room in the queue and queueing the event (the writer batches it to the
// database in the background, running here as in the gateway).
func BenchmarkEnqueue(b *testing.B) {
	a := audit.New(openStore(b), quiet, nil)
	go a.Run()
	defer a.Close(context.Background()) //nolint:errcheck // flushed at the end
	b.ReportAllocs()
	for b.Loop() {
		slot, ok := a.Reserve()
		if !ok {
			b.Fatal("no room in the audit queue")
		}
		slot.Record(benchEvent())
	}
}

// BenchmarkWriteAhead is what a mutating call waits for before it is
// forwarded: its record durably in the database (SQLite here), one at a
// time; concurrent calls share a batch (-cpu to see).
func BenchmarkWriteAhead(b *testing.B) {
	a := audit.New(openStore(b), quiet, nil)
	go a.Run()
	defer a.Close(context.Background()) //nolint:errcheck // flushed at the end
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := a.RecordSync(ctx, benchEvent()); err != nil {
				b.Fatal(err)
			}
		}
	})
}
