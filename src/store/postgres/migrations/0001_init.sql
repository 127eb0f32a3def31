-- 0001: the initial schema of the PostgreSQL run store (pg_run_store.h).
--
-- Never edit this file once it has landed; add 0002_*.sql instead. The migration runner
-- (pg_migrations.cc) applies each file in its own transaction, under an advisory lock so
-- replicas starting together apply it once, and records it in schema_migrations.
--
-- Encodings (as in the SQLite store, so both read the same way):
--  * state, from_state, to_state: the integer value of sluice::State (common/state.h);
--    terminal states are 5, 6, 7, 8 and 10.
--  * times: microseconds since the Unix epoch (UTC), bigint.
--  * JSON columns hold compact JSON text; NULL stands for the empty object/array.

-- One row per run. seq increases with submission (insertion) order.
CREATE TABLE runs (
  seq                     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  id                      text     NOT NULL UNIQUE,
  state                   smallint NOT NULL,
  workflow_type           text     NOT NULL,
  workflow_type_version   text     NOT NULL,
  workflow_url            text     NOT NULL,
  workflow_params         text     NOT NULL,
  workflow_engine         text     NOT NULL,
  workflow_engine_version text     NOT NULL,
  engine_params           text,
  tags                    text,
  attachments             text,
  submitted_at            bigint   NOT NULL,
  updated_at              bigint   NOT NULL,
  start_time              bigint,
  end_time                bigint,
  outputs                 text,
  system_logs             text,
  idempotency_key         text,
  owner                   text,
  lease_until             bigint   NOT NULL DEFAULT 0,
  user_name               text     NOT NULL,
  name                    text
);
CREATE UNIQUE INDEX runs_by_idempotency_key ON runs (idempotency_key)
  WHERE idempotency_key IS NOT NULL;
-- Non-terminal runs in submission order: what claims and lease renewals walk.
CREATE INDEX runs_active ON runs (seq) WHERE state NOT IN (5, 6, 7, 8, 10);
CREATE INDEX runs_active_by_owner ON runs (owner) WHERE state NOT IN (5, 6, 7, 8, 10);
-- The run index (ListRuns): each ends with seq, the submission order within a key.
CREATE INDEX runs_by_state ON runs (state, seq);
CREATE INDEX runs_by_user ON runs (user_name, seq);
CREATE INDEX runs_by_user_state ON runs (user_name, state, seq);
CREATE INDEX runs_by_workflow_type ON runs (workflow_type, seq);
CREATE INDEX runs_by_name ON runs (name text_pattern_ops, seq) WHERE name IS NOT NULL;
CREATE INDEX runs_by_submitted ON runs (submitted_at, seq);
CREATE INDEX runs_by_updated ON runs (updated_at, seq);
CREATE INDEX runs_by_state_updated ON runs (state, updated_at, seq);
CREATE INDEX runs_by_user_updated ON runs (user_name, updated_at, seq);
-- Ended runs by end time (ListEndedRuns).
CREATE INDEX runs_ended ON runs ((coalesce(end_time, updated_at)), seq)
  WHERE state IN (5, 6, 7, 8, 10);

-- Every tag of every run, for tag filters; runs.tags (JSON) stays what a run is read from.
CREATE TABLE run_tags (
  key     text   NOT NULL,
  value   text   NOT NULL,
  run_seq bigint NOT NULL,
  PRIMARY KEY (key, value, run_seq)
);
CREATE INDEX run_tags_by_run ON run_tags (run_seq);

-- Tasks; seq increases with creation order (global), the id is unique per run.
CREATE TABLE tasks (
  seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_seq         bigint   NOT NULL,
  id              text     NOT NULL,
  name            text     NOT NULL,
  cmd             text,
  state           smallint NOT NULL,
  executor        text     NOT NULL,
  executor_job_id text,
  exit_code       integer,
  start_time      bigint,
  end_time        bigint,
  system_logs     text,
  created_at      bigint   NOT NULL,
  updated_at      bigint   NOT NULL,
  launch_spec     text,
  UNIQUE (run_seq, id)
);
CREATE INDEX tasks_by_run ON tasks (run_seq, seq);
-- Submitted, unfinished tasks by last change: what the reconciler asks about.
CREATE INDEX tasks_stale ON tasks (updated_at, seq)
  WHERE state NOT IN (5, 6, 7, 8, 10) AND executor_job_id IS NOT NULL;

-- The audit trail; seq is global append order. type is the HistoryEvent type name.
CREATE TABLE history (
  seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  run_seq    bigint   NOT NULL,
  task_id    text     NOT NULL,
  type       text     NOT NULL,
  from_state smallint NOT NULL,
  to_state   smallint NOT NULL,
  at         bigint   NOT NULL,
  reason     text     NOT NULL
);
CREATE INDEX history_by_run ON history (run_seq, seq);

-- A workflow engine's own log per run, numbered 1, 2, 3, ... per run.
CREATE TABLE run_events (
  run_seq    bigint  NOT NULL,
  seq        bigint  NOT NULL,
  type       text    NOT NULL,
  at         bigint  NOT NULL,
  state_name text    NOT NULL,
  scope      text    NOT NULL,
  details    text    NOT NULL,
  replay     boolean NOT NULL,
  PRIMARY KEY (run_seq, seq)
);

-- Run counts per (dimension, key, state), kept by the triggers below in the transaction of
-- every change. dim: 0 all runs (key ''), 1 user, 2 workflow type, 3 tag (key, chr(31),
-- value). Each count is spread over stripes (the writing backend's pid modulo 16) so that
-- concurrent submissions do not queue on one hot row; a count is the sum of its stripes.
CREATE TABLE run_counts (
  dim    smallint NOT NULL,
  key    text     NOT NULL,
  state  smallint NOT NULL,
  stripe smallint NOT NULL,
  count  bigint   NOT NULL,
  PRIMARY KEY (dim, key, state, stripe)
);

CREATE FUNCTION sluice_count(d integer, k text, s smallint, delta integer) RETURNS void
LANGUAGE sql AS $$
  INSERT INTO run_counts AS c (dim, key, state, stripe, count)
    VALUES (d, k, s, pg_backend_pid() % 16, delta)
    ON CONFLICT (dim, key, state, stripe) DO UPDATE SET count = c.count + EXCLUDED.count;
$$;

CREATE FUNCTION sluice_runs_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM sluice_count(0, '', NEW.state, 1);
    PERFORM sluice_count(1, NEW.user_name, NEW.state, 1);
    PERFORM sluice_count(2, NEW.workflow_type, NEW.state, 1);
  ELSIF TG_OP = 'UPDATE' THEN
    PERFORM sluice_count(0, '', OLD.state, -1);
    PERFORM sluice_count(0, '', NEW.state, 1);
    PERFORM sluice_count(1, OLD.user_name, OLD.state, -1);
    PERFORM sluice_count(1, NEW.user_name, NEW.state, 1);
    PERFORM sluice_count(2, OLD.workflow_type, OLD.state, -1);
    PERFORM sluice_count(2, NEW.workflow_type, NEW.state, 1);
    PERFORM sluice_count(3, t.key || chr(31) || t.value, OLD.state, -1)
      FROM run_tags t WHERE t.run_seq = NEW.seq;
    PERFORM sluice_count(3, t.key || chr(31) || t.value, NEW.state, 1)
      FROM run_tags t WHERE t.run_seq = NEW.seq;
  ELSE
    -- The store deletes a run's tag rows (whose trigger uncounts them) before the run.
    PERFORM sluice_count(0, '', OLD.state, -1);
    PERFORM sluice_count(1, OLD.user_name, OLD.state, -1);
    PERFORM sluice_count(2, OLD.workflow_type, OLD.state, -1);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER runs_counts_insert_delete AFTER INSERT OR DELETE ON runs
  FOR EACH ROW EXECUTE FUNCTION sluice_runs_counts();
CREATE TRIGGER runs_counts_update AFTER UPDATE OF state ON runs
  FOR EACH ROW WHEN (OLD.state <> NEW.state) EXECUTE FUNCTION sluice_runs_counts();

CREATE FUNCTION sluice_run_tags_counts() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    PERFORM sluice_count(3, NEW.key || chr(31) || NEW.value, r.state, 1)
      FROM runs r WHERE r.seq = NEW.run_seq;
  ELSE
    PERFORM sluice_count(3, OLD.key || chr(31) || OLD.value, r.state, -1)
      FROM runs r WHERE r.seq = OLD.run_seq;
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER run_tags_counts AFTER INSERT OR DELETE ON run_tags
  FOR EACH ROW EXECUTE FUNCTION sluice_run_tags_counts();

-- The outbox. Writers insert entries with seq NULL in the transaction of the change (id
-- gives their order within it); sluice_sequence_outbox() numbers the committed ones. It
-- runs under the row lock of outbox_last, so numbering transactions are serialized and
-- each one commits before the next starts: a reader that sees seq N sees every seq below N,
-- and an entry that commits late gets a seq above everything already readable. last_seq
-- keeps the newest seq ever given, so seqs are never reused after pruning.
CREATE TABLE outbox (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  seq        bigint UNIQUE,
  run_id     text     NOT NULL,
  task_id    text     NOT NULL,
  type       text     NOT NULL,
  from_state smallint NOT NULL,
  to_state   smallint NOT NULL,
  at         bigint   NOT NULL,
  reason     text     NOT NULL
);
CREATE INDEX outbox_pending ON outbox (id) WHERE seq IS NULL;
CREATE TABLE outbox_last (
  one      integer PRIMARY KEY CHECK (one = 1),
  last_seq bigint  NOT NULL
);
INSERT INTO outbox_last (one, last_seq) VALUES (1, 0);

CREATE FUNCTION sluice_sequence_outbox() RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  last bigint;
  n bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM outbox WHERE seq IS NULL) THEN
    RETURN 0;
  END IF;
  SELECT last_seq INTO last FROM outbox_last WHERE one = 1 FOR UPDATE;
  -- A new snapshot (READ COMMITTED): every entry committed before the lock was granted.
  WITH p AS (SELECT id, row_number() OVER (ORDER BY id) AS rn FROM outbox WHERE seq IS NULL)
  UPDATE outbox o SET seq = last + p.rn FROM p WHERE o.id = p.id;
  GET DIAGNOSTICS n = ROW_COUNT;
  IF n > 0 THEN
    UPDATE outbox_last SET last_seq = last + n WHERE one = 1;
  END IF;
  RETURN n;
END $$;

-- Stats roll-ups, one row per (dimension, key, UTC day of the run's end), as in the SQLite
-- store (store/stats_rollup.h): dim 0 all runs (key ''), 1 user, 2 workflow type, 3 tag
-- (TagRollupKey). Histograms are DurationHistogram::Encode() bytes, NULL when empty.
CREATE TABLE stats_rollup (
  dim               smallint NOT NULL,
  key               text     NOT NULL,
  day               bigint   NOT NULL,
  runs              bigint   NOT NULL,
  n_complete        bigint   NOT NULL,
  n_executor_error  bigint   NOT NULL,
  n_system_error    bigint   NOT NULL,
  n_canceled        bigint   NOT NULL,
  n_preempted       bigint   NOT NULL,
  tasks             bigint   NOT NULL,
  tasks_failed      bigint   NOT NULL,
  cpu_seconds       double precision NOT NULL,
  memory_gb_seconds double precision NOT NULL,
  run_hist          bytea,
  task_hist         bytea,
  PRIMARY KEY (dim, day, key)
);

-- A submission in one statement (one round trip, committed on its own when the caller has no
-- transaction open): the run, its tag rows, its first history event and outbox entry.
-- Returns the run's seq. A taken id fails with unique_violation.
CREATE FUNCTION sluice_create_run(p_id text, p_workflow_type text, p_workflow_type_version text,
    p_workflow_url text, p_workflow_params text, p_workflow_engine text,
    p_workflow_engine_version text, p_engine_params text, p_tags text, p_attachments text,
    p_submitted_at bigint, p_idempotency_key text, p_user_name text, p_name text,
    p_tag_keys text[], p_tag_values text[]) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  s bigint;
BEGIN
  INSERT INTO runs (id, state, workflow_type, workflow_type_version, workflow_url,
      workflow_params, workflow_engine, workflow_engine_version, engine_params, tags,
      attachments, submitted_at, updated_at, idempotency_key, user_name, name)
    VALUES (p_id, 1, p_workflow_type, p_workflow_type_version, p_workflow_url,
      p_workflow_params, p_workflow_engine, p_workflow_engine_version, p_engine_params, p_tags,
      p_attachments, p_submitted_at, p_submitted_at, p_idempotency_key, p_user_name, p_name)
    RETURNING seq INTO s;
  INSERT INTO run_tags (key, value, run_seq)
    SELECT k, v, s FROM unnest(p_tag_keys, p_tag_values) AS t (k, v);
  INSERT INTO history (run_seq, task_id, type, from_state, to_state, at, reason)
    VALUES (s, '', 'RunStateChanged', 0, 1, p_submitted_at, 'submitted');
  INSERT INTO outbox (run_id, task_id, type, from_state, to_state, at, reason)
    VALUES (p_id, '', 'RunStateChanged', 0, 1, p_submitted_at, 'submitted');
  RETURN s;
END $$;
