package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

// LockJobs serializes job claims ("rgw-jobs"), so that a worker waiting
// for another's claim then sees what that one took and claims others.
// Claims are exactly once without it too: see ClaimJobs.
const LockJobs Lock = 0x7267772d6a6f6273

const jobColumns = `id, channel, event, payload, attempts, run_at, locked_by, locked_until, last_error, created_at,
	done_at, dead_at`

// jobDue is the condition of a due job, with two parameters: now, now.
const jobDue = `done_at IS NULL AND dead_at IS NULL AND run_at <= ? AND (locked_until IS NULL OR locked_until <= ?)`

// jobLeased is the condition of a job leased to a worker, with two
// parameters: id, worker.
const jobLeased = `id = ? AND locked_by = ? AND locked_until IS NOT NULL AND done_at IS NULL AND dead_at IS NULL`

func (s *Store) scanJob(sc scanner) (store.Job, error) {
	var j store.Job
	err := sc.Scan(&j.ID, &j.Channel, &j.Event, &j.Payload, &j.Attempts, s.td(&j.RunAt), &j.LockedBy, s.td(&j.LockedUntil),
		&j.LastError, s.td(&j.CreatedAt), s.td(&j.DoneAt), s.td(&j.DeadAt))
	return j, err
}

// EnqueueJob implements store.Jobs.
func (s *Store) EnqueueJob(ctx context.Context, j *store.Job) error {
	if j.Channel == "" || j.Event == "" || len(j.Payload) == 0 {
		return s.errorf("enqueue job: channel, event and payload are required")
	}
	now := s.now()
	runAt := s.orNow(j.RunAt)
	err := s.write.QueryRowContext(ctx, s.q(`INSERT INTO jobs (channel, event, payload, run_at, created_at)
		VALUES (?, ?, ?, ?, ?) RETURNING id`), j.Channel, j.Event, j.Payload, s.t(runAt), s.t(now)).Scan(&j.ID)
	if err != nil {
		return s.wrap("enqueue job", err)
	}
	j.Attempts, j.RunAt, j.CreatedAt = 0, runAt, now
	j.LockedBy, j.LockedUntil, j.LastError, j.DoneAt, j.DeadAt = "", time.Time{}, "", time.Time{}, time.Time{}
	return nil
}

// GetJob implements store.Jobs.
func (s *Store) GetJob(ctx context.Context, id int64) (*store.Job, error) {
	j, err := s.scanJob(s.write.QueryRowContext(ctx, s.q(`SELECT `+jobColumns+` FROM jobs WHERE id = ?`), id))
	if err != nil {
		return nil, s.wrap("get job", err)
	}
	return &j, nil
}

// ClaimJobs implements store.Jobs. One UPDATE picks the due jobs and
// leases them, and its WHERE repeats the due condition on the row it
// changes: on PostgreSQL, an UPDATE that waited for another transaction's
// row lock re-checks that condition on the row as the other left it, so a
// job another worker claimed (or completed) meanwhile is skipped, never
// leased twice. LockJobs only keeps racing claimers from picking the same
// rows and coming back with fewer than they could have had. SQLite runs
// one write transaction at a time.
func (s *Store) ClaimJobs(ctx context.Context, worker string, limit int, lease time.Duration) ([]store.Job, error) {
	if worker == "" || limit < 1 || lease < time.Microsecond {
		return nil, s.errorf("claim jobs: a worker, a limit and a lease are required")
	}
	now := s.now()
	n := s.t(now)
	until := s.t(now.Add(lease))
	var out []store.Job
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.d.Lock(ctx, tx, LockJobs); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, s.q(`UPDATE jobs SET locked_by = ?, locked_until = ?, attempts = attempts + 1
			WHERE id IN (SELECT id FROM jobs WHERE `+jobDue+` ORDER BY run_at, id LIMIT ?) AND `+jobDue+`
			RETURNING `+jobColumns), worker, until, n, n, limit, n, n)
		if err != nil {
			return err
		}
		defer rows.Close()
		out = []store.Job{}
		for rows.Next() {
			j, err := s.scanJob(rows)
			if err != nil {
				return err
			}
			out = append(out, j)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, s.wrap("claim jobs", err)
	}
	slices.SortFunc(out, func(a, b store.Job) int {
		if c := a.RunAt.Compare(b.RunAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out, nil
}

// CompleteJob implements store.Jobs.
func (s *Store) CompleteJob(ctx context.Context, id int64, worker string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE jobs SET done_at = ?, locked_until = NULL, last_error = ''
		WHERE `+jobLeased), s.t(s.now()), id, worker)
	return s.wrap("complete job", s.leased(ctx, id, res, err))
}

// RetryJob implements store.Jobs.
func (s *Store) RetryJob(ctx context.Context, id int64, worker string, runAt time.Time, lastError string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE jobs SET run_at = ?, last_error = ?, locked_until = NULL
		WHERE `+jobLeased), s.t(s.orNow(runAt)), lastError, id, worker)
	return s.wrap("retry job", s.leased(ctx, id, res, err))
}

// KillJob implements store.Jobs.
func (s *Store) KillJob(ctx context.Context, id int64, worker string, lastError string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE jobs SET dead_at = ?, last_error = ?, locked_until = NULL
		WHERE `+jobLeased), s.t(s.now()), lastError, id, worker)
	return s.wrap("kill job", s.leased(ctx, id, res, err))
}

// leased maps the result of a change to a worker's leased job: none
// changed is ErrNotFound for a missing job and ErrConflict for one the
// worker does not hold.
func (s *Store) leased(ctx context.Context, id int64, res sql.Result, err error) error {
	err = mustAffect(res, err)
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	var one int
	if err := s.write.QueryRowContext(ctx, s.q(`SELECT 1 FROM jobs WHERE id = ?`), id).Scan(&one); err != nil {
		return err
	}
	return store.ErrConflict
}

// ListJobs implements store.Jobs.
func (s *Store) ListJobs(ctx context.Context, f store.JobFilter) ([]store.Job, error) {
	q, args := `SELECT `+jobColumns+` FROM jobs WHERE 1 = 1`, []any{}
	switch f.State {
	case "":
	case store.JobQueued:
		q += ` AND done_at IS NULL AND dead_at IS NULL`
	case store.JobDone:
		q += ` AND done_at IS NOT NULL`
	case store.JobDead:
		q += ` AND dead_at IS NOT NULL`
	default:
		return nil, s.errorf("list jobs: unknown state %q", f.State)
	}
	q, args = page(q, args, []cond{
		{` AND channel = ?`, f.Channel, f.Channel != ""},
		{` AND event = ?`, f.Event, f.Event != ""},
		{` AND id < ?`, f.BeforeID, f.BeforeID != 0},
	}, f.Limit)
	out, err := list(ctx, s, s.write, q, args, s.scanJob)
	return out, s.wrap("list jobs", err)
}

// DeleteFinishedJobs implements store.Jobs.
func (s *Store) DeleteFinishedJobs(ctx context.Context, before time.Time) (int64, error) {
	b := s.t(store.NormalizeTime(before))
	res, err := s.write.ExecContext(ctx, s.q(`DELETE FROM jobs WHERE done_at < ? OR dead_at < ?`), b, b)
	if err != nil {
		return 0, s.wrap("delete finished jobs", err)
	}
	n, err := res.RowsAffected()
	return n, s.wrap("delete finished jobs", err)
}
