package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rack-gateway/rack-gateway/internal/store"
)

const selectDeploy = `SELECT id, rack, app, commit_sha, branch, pr_url, message, ci_url, token_id, owner_id, requester,
	needed, window_us, status, created_at, expires_at, approved_at, window_ends_at, decided_by, comment,
	object_key, build_id, release_id, deployed_at, source_check FROM deploy_requests`

func (s *Store) scanDeploy(sc scanner) (store.DeployRequest, error) {
	var d store.DeployRequest
	var windowUS int64
	var decidedBy sql.NullInt64
	var object, build, release sql.NullString
	err := sc.Scan(&d.ID, &d.Rack, &d.App, &d.Commit, &d.Branch, &d.PRURL, &d.Message, &d.CIURL, &d.TokenID, &d.OwnerID,
		&d.Requester, &d.Needed, &windowUS, &d.Status, s.td(&d.CreatedAt), s.td(&d.ExpiresAt), s.td(&d.ApprovedAt),
		s.td(&d.WindowEndsAt), &decidedBy, &d.Comment, &object, &build, &release, s.td(&d.DeployedAt), &d.SourceCheck)
	d.Window = time.Duration(windowUS) * time.Microsecond
	d.DecidedBy = decidedBy.Int64
	d.ObjectKey, d.BuildID, d.ReleaseID = object.String, build.String, release.String
	return d, err
}

// CreateDeployRequest implements store.DeployRequests.
func (s *Store) CreateDeployRequest(ctx context.Context, d *store.DeployRequest) error {
	if d.Needed < 1 || d.Window <= 0 || d.ExpiresAt.IsZero() {
		return s.errorf("create deploy request: needed, window and expiry are required")
	}
	now := s.now()
	d.ExpiresAt = store.NormalizeTime(d.ExpiresAt)
	d.Window = d.Window.Truncate(time.Microsecond)
	err := s.write.QueryRowContext(ctx, s.q(`INSERT INTO deploy_requests (rack, app, commit_sha, branch, pr_url, message,
		ci_url, token_id, owner_id, requester, needed, window_us, status, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`),
		d.Rack, d.App, d.Commit, d.Branch, d.PRURL, d.Message, d.CIURL, d.TokenID, d.OwnerID, d.Requester, d.Needed,
		d.Window.Microseconds(), store.DeployPending, s.t(now), s.t(d.ExpiresAt)).Scan(&d.ID)
	if err != nil {
		return s.wrap("create deploy request", err)
	}
	d.Status, d.CreatedAt = store.DeployPending, now
	return nil
}

// GetDeployRequest implements store.DeployRequests.
func (s *Store) GetDeployRequest(ctx context.Context, id int64) (*store.DeployRequest, error) {
	d, err := s.scanDeploy(s.write.QueryRowContext(ctx, s.q(selectDeploy+` WHERE id = ?`), id))
	if err != nil {
		return nil, s.wrap("get deploy request", err)
	}
	d.Approvals, err = list(ctx, s, s.write, `SELECT request_id, user_id, email, comment, created_at FROM deploy_approvals
		WHERE request_id = ? ORDER BY created_at, user_id`, []any{id}, func(sc scanner) (store.DeployApproval, error) {
		var a store.DeployApproval
		err := sc.Scan(&a.RequestID, &a.UserID, &a.Email, &a.Comment, s.td(&a.CreatedAt))
		return a, err
	})
	if err != nil {
		return nil, s.wrap("get deploy approvals", err)
	}
	return &d, nil
}

// ListDeployRequests implements store.DeployRequests.
func (s *Store) ListDeployRequests(ctx context.Context, f store.DeployFilter) ([]store.DeployRequest, error) {
	q, args := page(selectDeploy+` WHERE 1 = 1`, nil, []cond{
		{` AND status = ?`, f.Status, f.Status != ""},
		{` AND rack = ?`, f.Rack, f.Rack != ""},
		{` AND app = ?`, f.App, f.App != ""},
		{` AND token_id = ?`, f.TokenID, f.TokenID != 0},
		{` AND id < ?`, f.BeforeID, f.BeforeID != 0},
	}, f.Limit)
	out, err := list(ctx, s, s.write, q, args, s.scanDeploy)
	return out, s.wrap("list deploy requests", err)
}

// LatestDeployRequest implements store.DeployRequests.
func (s *Store) LatestDeployRequest(ctx context.Context, tokenID int64, rack, app string) (*store.DeployRequest, error) {
	d, err := s.scanDeploy(s.write.QueryRowContext(ctx, s.q(selectDeploy+
		` WHERE token_id = ? AND rack = ? AND app = ? ORDER BY id DESC LIMIT 1`), tokenID, rack, app))
	if err != nil {
		return nil, s.wrap("latest deploy request", err)
	}
	return &d, nil
}

// ApproveDeployRequest implements store.DeployRequests. The approval and
// the state change are one transaction; the UPDATE's conditions, not an
// earlier read, decide whether the request is still open.
func (s *Store) ApproveDeployRequest(ctx context.Context, a store.DeployApproval) (*store.DeployRequest, error) {
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		// Touch the row first: it locks the request on PostgreSQL, so two
		// last approvals cannot both miss the count.
		var needed int
		var windowUS int64
		err := tx.QueryRowContext(ctx, s.q(`UPDATE deploy_requests SET comment = comment
			WHERE id = ? AND status = ? AND expires_at > ? RETURNING needed, window_us`),
			a.RequestID, store.DeployPending, s.t(now)).Scan(&needed, &windowUS)
		if errors.Is(err, sql.ErrNoRows) {
			return s.missingOr(ctx, tx, a.RequestID)
		} else if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, s.q(`INSERT INTO deploy_approvals (request_id, user_id, email, comment, created_at)
			VALUES (?, ?, ?, ?, ?)`), a.RequestID, a.UserID, a.Email, a.Comment, s.t(now)); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, s.q(`SELECT count(*) FROM deploy_approvals WHERE request_id = ?`),
			a.RequestID).Scan(&n); err != nil {
			return err
		}
		if n < needed {
			return nil
		}
		ends := now.Add(time.Duration(windowUS) * time.Microsecond)
		_, err = tx.ExecContext(ctx, s.q(`UPDATE deploy_requests SET status = ?, approved_at = ?, window_ends_at = ?
			WHERE id = ?`), store.DeployApproved, s.t(now), s.t(ends), a.RequestID)
		return err
	})
	if err != nil {
		return nil, s.wrap("approve deploy request", err)
	}
	return s.GetDeployRequest(ctx, a.RequestID)
}

// missingOr tells a missing request (ErrNotFound) from one whose state
// refused the change (ErrConflict).
func (s *Store) missingOr(ctx context.Context, tx *sql.Tx, id int64) error {
	var one int
	if err := tx.QueryRowContext(ctx, s.q(`SELECT 1 FROM deploy_requests WHERE id = ?`), id).Scan(&one); err != nil {
		return err
	}
	return store.ErrConflict
}

// RejectDeployRequest implements store.DeployRequests.
func (s *Store) RejectDeployRequest(ctx context.Context, id, userID int64, comment string) (*store.DeployRequest, error) {
	now := s.now()
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(`UPDATE deploy_requests SET status = ?, decided_by = ?, comment = ?
			WHERE id = ? AND status = ? AND expires_at > ?`), store.DeployRejected, userID, comment, id,
			store.DeployPending, s.t(now))
		if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
			return s.missingOr(ctx, tx, id)
		} else {
			return err
		}
	})
	if err != nil {
		return nil, s.wrap("reject deploy request", err)
	}
	return s.GetDeployRequest(ctx, id)
}

// stepColumn and the column of the step before it.
var stepColumns = map[store.DeployStep][2]string{
	store.StepObject:  {"object_key", ""},
	store.StepBuild:   {"build_id", "object_key"},
	store.StepRelease: {"release_id", "build_id"},
}

// ClaimDeployStep implements store.DeployRequests.
func (s *Store) ClaimDeployStep(ctx context.Context, id int64, step store.DeployStep, value string) error {
	cols, ok := stepColumns[step]
	if !ok || value == "" {
		return s.errorf("claim deploy step: unknown step %q or empty value", step)
	}
	q := `UPDATE deploy_requests SET ` + cols[0] + ` = ? WHERE id = ? AND status = ? AND window_ends_at > ? AND ` +
		cols[0] + ` IS NULL`
	if cols[1] != "" { // the step before is done (not merely claimed)
		q += ` AND ` + cols[1] + ` IS NOT NULL AND ` + cols[1] + ` <> '` + store.StepPending + `'`
	}
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, s.q(q), value, id, store.DeployApproved, s.t(s.now()))
		if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
			return s.missingOr(ctx, tx, id)
		} else {
			return err
		}
	})
	return s.wrap("claim deploy step", err)
}

// FinishDeployStep implements store.DeployRequests.
func (s *Store) FinishDeployStep(ctx context.Context, id int64, step store.DeployStep, value string, ok bool) error {
	cols, known := stepColumns[step]
	if !known {
		return s.errorf("finish deploy step: unknown step %q", step)
	}
	var res sql.Result
	var err error
	switch {
	case !ok:
		res, err = s.write.ExecContext(ctx, s.q(`UPDATE deploy_requests SET `+cols[0]+` = NULL WHERE id = ? AND `+
			cols[0]+` = ? AND status = ?`), id, value, store.DeployApproved)
		if err == nil {
			return nil // given back, or nothing to give back
		}
	case step == store.StepRelease:
		res, err = s.write.ExecContext(ctx, s.q(`UPDATE deploy_requests SET release_id = ?, status = ?, deployed_at = ?
			WHERE id = ? AND status = ? AND release_id IS NOT NULL`), value, store.DeployDeployed, s.t(s.now()), id,
			store.DeployApproved)
	default:
		res, err = s.write.ExecContext(ctx, s.q(`UPDATE deploy_requests SET `+cols[0]+` = ? WHERE id = ? AND `+
			cols[0]+` IS NOT NULL`), value, id)
	}
	if err := mustAffect(res, err); errors.Is(err, sql.ErrNoRows) {
		return s.wrap("finish deploy step", store.ErrConflict)
	} else if err != nil {
		return s.wrap("finish deploy step", err)
	}
	return nil
}

// SetSourceCheck implements store.DeployRequests.
func (s *Store) SetSourceCheck(ctx context.Context, id int64, verdict string) error {
	res, err := s.write.ExecContext(ctx, s.q(`UPDATE deploy_requests SET source_check = ? WHERE id = ?`), verdict, id)
	return s.wrap("set source check", mustAffect(res, err))
}

// ExpireDeployRequests implements store.DeployRequests.
func (s *Store) ExpireDeployRequests(ctx context.Context) ([]store.DeployRequest, error) {
	now := s.t(s.now())
	var out []store.DeployRequest
	err := s.inTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, s.q(selectDeploy+` WHERE (status = ? AND expires_at <= ?)
			OR (status = ? AND window_ends_at <= ?) ORDER BY id`), store.DeployPending, now, store.DeployApproved, now)
		if err != nil {
			return err
		}
		for rows.Next() {
			d, err := s.scanDeploy(rows)
			if err != nil {
				rows.Close()
				return err
			}
			out = append(out, d)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for i := range out {
			if _, err := tx.ExecContext(ctx, s.q(`UPDATE deploy_requests SET status = ? WHERE id = ? AND status = ?`),
				store.DeployExpired, out[i].ID, out[i].Status); err != nil {
				return err
			}
			out[i].Status = store.DeployExpired
		}
		return nil
	})
	if out == nil {
		out = []store.DeployRequest{}
	}
	return out, s.wrap("expire deploy requests", err)
}
