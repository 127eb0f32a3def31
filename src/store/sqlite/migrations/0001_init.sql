-- 0001: the initial schema of the SQLite run store.
--
-- Never edit this file once it has landed; add 0002_*.sql instead. The migration runner
-- (migrations.cc) applies each file in its own transaction and records it in
-- schema_migrations(version, name, applied_at).
--
-- Encodings used below:
--  * state, from_state, to_state: the integer value of sluice::State (common/state.h):
--    0 UNKNOWN, 1 QUEUED, 2 INITIALIZING, 3 RUNNING, 4 PAUSED, 5 COMPLETE,
--    6 EXECUTOR_ERROR, 7 SYSTEM_ERROR, 8 CANCELED, 9 CANCELING, 10 PREEMPTED.
--    Terminal states are 5, 6, 7, 8 and 10.
--  * times: microseconds since the Unix epoch (UTC).
--  * JSON columns hold compact JSON text; NULL stands for the empty object/array so that
--    the common case costs no bytes.
--  * Rows reference their run by runs.seq (an integer), not by the run's text id, to keep
--    tasks and history small.

-- One row per run. seq is the rowid: increasing with submission order, used for keyset
-- paging (newest first) and for "oldest first" claims.
CREATE TABLE runs (
  seq                     INTEGER PRIMARY KEY,
  id                      TEXT    NOT NULL UNIQUE,
  state                   INTEGER NOT NULL,
  workflow_type           TEXT    NOT NULL,
  workflow_type_version   TEXT    NOT NULL,
  workflow_url            TEXT    NOT NULL,
  workflow_params         TEXT    NOT NULL,   -- JSON object, as submitted
  workflow_engine         TEXT    NOT NULL,
  workflow_engine_version TEXT    NOT NULL,
  engine_params           TEXT,               -- JSON object of strings, or NULL
  tags                    TEXT,               -- JSON object of strings, or NULL
  attachments             TEXT,               -- JSON array of strings, or NULL
  submitted_at            INTEGER NOT NULL,
  updated_at              INTEGER NOT NULL,
  start_time              INTEGER,
  end_time                INTEGER,
  outputs                 TEXT,               -- JSON object, NULL for {}
  system_logs             TEXT,               -- JSON array of strings, or NULL
  idempotency_key         TEXT,               -- NULL when the client gave none
  owner                   TEXT,               -- replica holding the lease, NULL if none
  lease_until             INTEGER NOT NULL DEFAULT 0
);

-- A client key names at most one run.
CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key)
  WHERE idempotency_key IS NOT NULL;

-- Non-terminal runs in submission order: what ClaimRuns and RenewLeases look at. It stays
-- small however many finished runs the table holds. Queries must repeat this exact WHERE
-- clause for SQLite to use the index.
CREATE INDEX runs_active ON runs (seq) WHERE state NOT IN (5, 6, 7, 8, 10);
-- A replica's own active runs (lease renewal) without reading every queued run.
CREATE INDEX runs_active_by_owner ON runs (owner) WHERE state NOT IN (5, 6, 7, 8, 10);

-- Tasks of a run. seq is the rowid (creation order); the task id is unique per run.
CREATE TABLE tasks (
  seq             INTEGER PRIMARY KEY,
  run_seq         INTEGER NOT NULL REFERENCES runs (seq),
  id              TEXT    NOT NULL,
  name            TEXT    NOT NULL,
  cmd             TEXT,               -- JSON array of strings, or NULL
  state           INTEGER NOT NULL,
  executor        TEXT    NOT NULL,
  executor_job_id TEXT,               -- NULL until submitted
  exit_code       INTEGER,
  start_time      INTEGER,
  end_time        INTEGER,
  system_logs     TEXT,               -- JSON array of strings, or NULL
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  UNIQUE (run_seq, id)
);
-- (run_seq, seq) order for ListTasks: an index on run_seq is implicitly sorted by rowid.
CREATE INDEX tasks_by_run ON tasks (run_seq);

-- The append-only audit trail. seq is the rowid (global append order).
--  type: 1 RunStateChanged, 2 TaskStateChanged, 3 TaskCreated.
--  task_seq: tasks.seq for task events, NULL for run events.
CREATE TABLE history (
  seq        INTEGER PRIMARY KEY,
  run_seq    INTEGER NOT NULL REFERENCES runs (seq),
  task_seq   INTEGER REFERENCES tasks (seq),
  type       INTEGER NOT NULL,
  from_state INTEGER NOT NULL,
  to_state   INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  reason     TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX history_by_run ON history (run_seq);

-- Number of runs per state, kept by the triggers below in the same transaction as every
-- insert, state change or delete of a run, so CountRunsByState never scans runs.
CREATE TABLE run_state_counts (
  state INTEGER PRIMARY KEY,
  count INTEGER NOT NULL
);

CREATE TRIGGER runs_count_insert AFTER INSERT ON runs
BEGIN
  INSERT INTO run_state_counts (state, count) VALUES (NEW.state, 1)
    ON CONFLICT (state) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER runs_count_update AFTER UPDATE OF state ON runs
  WHEN OLD.state <> NEW.state
BEGIN
  UPDATE run_state_counts SET count = count - 1 WHERE state = OLD.state;
  INSERT INTO run_state_counts (state, count) VALUES (NEW.state, 1)
    ON CONFLICT (state) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER runs_count_delete AFTER DELETE ON runs
BEGIN
  UPDATE run_state_counts SET count = count - 1 WHERE state = OLD.state;
END;
