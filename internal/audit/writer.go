package audit

import (
	"context"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/audit/chain"
)

// besideWriteAhead is how many routine events go out in the same commit as
// waiting write-ahead events: enough to keep the routine queue moving under
// a steady stream of mutating calls, few enough that the commit the calls
// wait for stays short. A backlog larger than backlogAt is written in full
// batches anyway, so that reads are never refused for a full queue while
// mutating calls keep coming.
const (
	besideWriteAhead = 64
	backlogAt        = 4 * batchMax
)

// Run writes events until Close, in one goroutine, so that no two
// transactions of this gateway contend for the audit lock:
//
//   - write-ahead events (RecordSync) go out in the next commit, however
//     few: the call waits for them. Those that arrive while a commit is
//     being written share the following one (group commit).
//   - routine events (Record) go out in batches of up to batchMax, given
//     batchWait to fill; when write-ahead events are waiting, only
//     besideWriteAhead of them ride along in the same commit, so a mutating
//     call never waits behind a whole batch of reads.
func (a *Auditor) Run() {
	defer close(a.done)
	a.mu.Lock()
	if a.syncCh == nil && !a.closed {
		a.syncCh = make(chan syncReq, batchMax)
	}
	ch := a.syncCh
	a.mu.Unlock()
	var (
		reqs  = make([]syncReq, 0, batchMax)
		batch = make([]*chain.Event, 0, batchMax)
		timer = time.NewTimer(time.Hour)
	)
	timer.Stop()
	// receive adds a write-ahead request; a closed channel is done with.
	receive := func(r syncReq, ok bool) {
		if !ok {
			ch = nil
			return
		}
		reqs = append(reqs, r)
	}
	for {
		reqs = drain(ch, reqs)
		n, closed := a.q.state()
		if len(reqs) == 0 {
			switch {
			case n == 0 && closed && ch == nil:
				return
			case n == 0:
				select {
				case <-a.q.nonEmpty:
				case r, ok := <-ch:
					receive(r, ok)
				}
				continue
			case n < batchMax && !closed:
				// Give the batch batchWait to fill: one commit for many
				// events costs far less than one each. A write-ahead
				// event ends the wait.
				timer.Reset(batchWait)
				select {
				case <-a.q.full:
				case <-timer.C:
				case r, ok := <-ch:
					receive(r, ok)
				}
				timer.Stop()
				reqs = drain(ch, reqs)
				n, _ = a.q.state()
			}
		}
		limit := batchMax
		if len(reqs) > 0 && n < backlogAt {
			limit = besideWriteAhead
		}
		batch, _, _ = a.q.take(batch[:0], limit)
		// Tokens raised while this batch filled are stale now.
		select {
		case <-a.q.full:
		default:
		}
		a.write(reqs, batch)
		clear(batch) // let the written events be collected
		clear(reqs)
		reqs = reqs[:0]
	}
}

// drain adds to reqs the write-ahead requests already waiting, without
// blocking, up to batchMax.
func drain(ch chan syncReq, reqs []syncReq) []syncReq {
	for ch != nil && len(reqs) < batchMax {
		select {
		case r, ok := <-ch:
			if !ok {
				return reqs
			}
			reqs = append(reqs, r)
		default:
			return reqs
		}
	}
	return reqs
}

// write commits the routine batch and the write-ahead events together and
// answers the write-ahead callers. If that commit fails, the write-ahead
// events get one attempt of their own (the store may have refused a
// routine event, not theirs) and their callers learn the outcome; the
// routine batch then takes the batch path, retried until written.
func (a *Auditor) write(reqs []syncReq, batch []*chain.Event) {
	if len(reqs) == 0 {
		a.writeBatch(batch)
		return
	}
	evs := make([]*chain.Event, 0, len(batch)+len(reqs))
	evs = append(evs, batch...)
	for _, r := range reqs {
		evs = append(evs, r.ev)
	}
	err := a.appendWithin(a.SyncTimeout, evs)
	if err == nil {
		a.written.Add(float64(len(evs)))
		if len(batch) > 0 {
			a.recordUnrecorded()
			a.q.done(len(batch))
		}
		answer(reqs, nil)
		return
	}
	a.failures.Inc()
	if len(batch) == 0 {
		answer(reqs, err)
		return
	}
	err = a.appendWithin(a.SyncTimeout, evs[len(batch):])
	if err == nil {
		a.written.Add(float64(len(reqs)))
	} else {
		a.failures.Inc()
	}
	answer(reqs, err)
	a.writeBatch(batch)
}

func answer(reqs []syncReq, err error) {
	for _, r := range reqs {
		r.done <- err
	}
}

// appendWithin appends evs, giving up after d.
func (a *Auditor) appendWithin(d time.Duration, evs []*chain.Event) error {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	return a.append(ctx, evs)
}

// pause waits d between attempts at a routine batch the store refused,
// answering write-ahead events meanwhile: each gets its own attempt at
// once, so a mutating call during an outage is refused as soon as the
// store fails it (not after SyncTimeout, stuck behind the batch), and goes
// ahead as soon as the store is back. It runs on the writer's goroutine
// only (Run), which set syncCh before its first write.
func (a *Auditor) pause(d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	ch := a.syncCh
	for {
		select {
		case <-timer.C:
			return
		case r, ok := <-ch:
			if !ok {
				ch = nil // closed: only the timer is left
				continue
			}
			a.write(drain(ch, []syncReq{r}), nil)
		}
	}
}
