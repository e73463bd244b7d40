package store

import (
	"context"
	"time"
)

// Job states, as JobFilter.State selects them.
const (
	// JobQueued is a job not yet done or given up: waiting for its RunAt,
	// or leased to a worker.
	JobQueued = "queued"
	// JobDone is a job a worker completed.
	JobDone = "done"
	// JobDead is a job a worker gave up on.
	JobDead = "dead"
)

// Job is a unit of background work kept in the database, so that it
// survives restarts and is done once by one of several replicas: a
// notification to deliver to one channel, say.
//
// A worker claims due jobs with a lease (ClaimJobs) and then completes
// (CompleteJob), reschedules (RetryJob) or gives up on (KillJob) each. A
// worker that dies with a job leased loses it when the lease runs out,
// and another worker claims it again.
type Job struct {
	ID int64
	// Channel and Event say what the job is for (e.g. a notification
	// channel's name and an event kind), for inspection and filtering.
	Channel string
	Event   string
	// Payload is the work itself, JSON; it must never hold a secret.
	Payload []byte
	// Attempts counts claims: a job leased for the third time has 3.
	Attempts int
	// RunAt is when the job is due (EnqueueJob: now if zero).
	RunAt time.Time
	// LockedBy is the worker holding the lease, or that held it last;
	// LockedUntil is when the lease runs out, zero while none is held.
	LockedBy    string
	LockedUntil time.Time
	// LastError is why the last attempt failed ("" if none did).
	LastError string
	CreatedAt time.Time
	// DoneAt is set when the job was completed, DeadAt when it was given
	// up; at most one of them is.
	DoneAt time.Time
	DeadAt time.Time
}

// State is JobDone, JobDead or JobQueued.
func (j *Job) State() string {
	switch {
	case !j.DoneAt.IsZero():
		return JobDone
	case !j.DeadAt.IsZero():
		return JobDead
	}
	return JobQueued
}

// JobFilter selects jobs for ListJobs; zero fields match everything.
// Newest first.
type JobFilter struct {
	Channel  string
	Event    string
	State    string // JobQueued, JobDone or JobDead
	BeforeID int64
	Limit    int // default 100, at most 1000
}

// Jobs is a durable queue of background work shared by every replica on
// one database. A missing job is ErrNotFound; a change by a worker that
// does not hold the job's lease (another worker claimed it since, or it
// is done, dead or was never claimed) is ErrConflict.
type Jobs interface {
	// EnqueueJob inserts j and sets ID, CreatedAt (now), Attempts (0) and
	// RunAt (now if zero). Channel and Event are required.
	EnqueueJob(ctx context.Context, j *Job) error
	// GetJob returns one job.
	GetJob(ctx context.Context, id int64) (*Job, error)
	// ClaimJobs leases up to limit due jobs to worker until now+lease,
	// atomically, and returns them, oldest RunAt first, with Attempts
	// counting this claim. A job is due when its RunAt is not after now,
	// it is neither done nor dead, and it has no lease or its lease has
	// run out. Workers racing on one database never both get one job.
	ClaimJobs(ctx context.Context, worker string, limit int, lease time.Duration) ([]Job, error)
	// CompleteJob marks the worker's leased job done at now.
	CompleteJob(ctx context.Context, id int64, worker string) error
	// RetryJob gives back the worker's leased job with lastError, due
	// again at runAt.
	RetryJob(ctx context.Context, id int64, worker string, runAt time.Time, lastError string) error
	// KillJob gives up on the worker's leased job at now, with lastError.
	KillJob(ctx context.Context, id int64, worker string, lastError string) error
	// ListJobs lists jobs matching f, newest first.
	ListJobs(ctx context.Context, f JobFilter) ([]Job, error)
	// DeleteFinishedJobs deletes the jobs done or given up before before
	// and returns how many.
	DeleteFinishedJobs(ctx context.Context, before time.Time) (int64, error)
}
