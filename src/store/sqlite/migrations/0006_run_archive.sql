-- 0006: compact storage of ended runs (archive_ops.h). Once a run has ended and every task
-- of it has ended, its tasks and history rows are moved into one compressed blob per run,
-- read back (decoded) by GetTask, ListTasks and ListHistory. An archived run is read-only.
--
-- Encodings added here:
--  * runs.archived: 0 not examined yet, 1 tasks and history are in run_archive (no rows in
--    tasks/history), 2 examined and kept as rows (more than 1,000 tasks, or a task had not
--    ended when the run was examined).
--  * run_archive.data: the run's tasks and history (archive_ops.cc: a version byte, the
--    encoded length, then raw deflate of varint-encoded rows).

ALTER TABLE runs ADD COLUMN archived INTEGER NOT NULL DEFAULT 0;

-- One row per archived run; the rowid is runs.seq (no index of its own).
CREATE TABLE run_archive (
  run_seq INTEGER PRIMARY KEY,
  data    BLOB    NOT NULL
);

-- Ended runs not examined yet, by end time: what ArchiveEndedRuns walks. It holds only the
-- runs that ended since the last pass (a row leaves it when archived is set), so it stays
-- small, and each pass starts at the first candidate instead of skipping archived runs.
-- Queries must repeat this exact expression and WHERE clause for SQLite to use the index.
CREATE INDEX runs_to_archive ON runs (coalesce(end_time, updated_at), seq)
  WHERE state IN (5, 6, 7, 8, 10) AND archived = 0;
