-- One row of event times per aligned block of 512 ids (first_id k*512,
-- last_id k*512+511), widened by each append, instead of a row per append.
--
-- A row per append made a time range's listing read a row per commit of
-- the whole log: a quiet gateway commits every event or two, so 400,000
-- events written two per commit took 23 ms per listing of one minute, and
-- 10M would take about half a second (BenchmarkListAuditQuietGateway).
-- Now a 10M-event log has about 20,000 rows whatever its commits.
--
-- Each block's range covers every old row that overlaps the block, so no
-- event falls outside its block's range. The table stays append-only but
-- for that widening: an update may lower first_id and min_at and raise
-- max_at, nothing else (a wider range only makes a listing read more).
CREATE TABLE audit_time_blocks_aligned (
    last_id  INTEGER NOT NULL PRIMARY KEY,
    first_id INTEGER NOT NULL,
    min_at   INTEGER NOT NULL,
    max_at   INTEGER NOT NULL
) STRICT;

WITH RECURSIVE span(b, last_b, min_at, max_at) AS (
    SELECT first_id / 512, last_id / 512, min_at, max_at FROM audit_time_blocks
    UNION ALL
    SELECT b + 1, last_b, min_at, max_at FROM span WHERE b < last_b
)
INSERT INTO audit_time_blocks_aligned (last_id, first_id, min_at, max_at)
    SELECT b * 512 + 511, b * 512, MIN(min_at), MAX(max_at) FROM span GROUP BY b;

DROP TABLE audit_time_blocks;
ALTER TABLE audit_time_blocks_aligned RENAME TO audit_time_blocks;

CREATE TRIGGER audit_time_blocks_widen_only BEFORE UPDATE ON audit_time_blocks
WHEN NEW.last_id <> OLD.last_id OR NEW.first_id > OLD.first_id OR NEW.min_at > OLD.min_at OR NEW.max_at < OLD.max_at
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
CREATE TRIGGER audit_time_blocks_no_delete BEFORE DELETE ON audit_time_blocks
BEGIN SELECT RAISE(ABORT, 'rack-gateway: the audit log is append-only'); END;
