-- 0005: the outbox (change feed), the stats roll-ups and the index the retention sweeper
-- walks. Encodings as in 0001_init.sql.

-- Every history event and every run deletion, in one global commit order, for subscribers
-- (SSE). Packed: one row holds the events of one write (a state sync batch of hundreds of
-- task changes costs one row, not one per event). Event i of a row has seq first_seq + i; seqs
-- are consecutive and never reused, even after pruning: outbox_last keeps the newest ever
-- written. The store writes both tables in the transaction of the change, from the same
-- code that appends the history rows (write_ops.cc), so a crash neither loses nor invents an
-- entry.
--  max_at: the latest `at` of the row's events (pruning by age takes whole rows).
--  events: per event, in order (varints; strings length-prefixed): run id, task id ("" for
--  run-level events), type (the history type code, 100 RunDeleted), from state, to state,
--  at (zigzag), reason. Ids are copied so an entry outlives its run. See outbox_ops.cc.
CREATE TABLE outbox (
  first_seq INTEGER PRIMARY KEY,
  n         INTEGER NOT NULL,
  max_at    INTEGER NOT NULL,
  events    BLOB    NOT NULL
);
CREATE TABLE outbox_last (
  one      INTEGER PRIMARY KEY CHECK (one = 1),
  last_seq INTEGER NOT NULL
);
INSERT INTO outbox_last (one, last_seq) VALUES (1, 0);

-- Stats roll-ups, one row per (dimension, key, UTC day of the run's end), updated in the
-- transaction that moves a run to a terminal state. QueryStats reads only these rows.
--  dim: 0 all runs (key ''), 1 user, 2 workflow type, 3 tag (key: tag key, char(31), value,
--  so the values of one tag key are one key range).
--  day: days since 1970-01-01 (UTC).
--  n_complete .. n_preempted: runs by terminal state.
--  run_hist, task_hist: log-bucketed histograms of run and task durations
--  (store/duration_histogram.h, Encode()), NULL when empty.
CREATE TABLE stats_rollup (
  dim               INTEGER NOT NULL,
  key               TEXT    NOT NULL,
  day               INTEGER NOT NULL,
  runs              INTEGER NOT NULL,
  n_complete        INTEGER NOT NULL,
  n_executor_error  INTEGER NOT NULL,
  n_system_error    INTEGER NOT NULL,
  n_canceled        INTEGER NOT NULL,
  n_preempted       INTEGER NOT NULL,
  tasks             INTEGER NOT NULL,
  tasks_failed      INTEGER NOT NULL,
  cpu_seconds       REAL    NOT NULL,
  memory_gb_seconds REAL    NOT NULL,
  run_hist          BLOB,
  task_hist         BLOB,
  PRIMARY KEY (dim, key, day)
) WITHOUT ROWID;

-- Ended runs by end time: what the retention sweeper walks (ListEndedRuns). A terminal run
-- without an end_time counts as ended when it was last updated. Queries must repeat this
-- exact expression and WHERE clause for SQLite to use the index.
CREATE INDEX runs_ended ON runs (coalesce(end_time, updated_at), seq)
  WHERE state IN (5, 6, 7, 8, 10);

-- ListStaleTasks needs no index of its own: it walks the tasks of non-terminal runs
-- (runs_active, 0001), which is what is in flight, so the hot path of state sync maintains no
-- extra index on every task change.
