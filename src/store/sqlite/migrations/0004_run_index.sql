-- 0004: the run index (who submitted a run, its name, its tags as rows, counts per user,
-- workflow type and tag kept by triggers) and a compact layout of tasks and history.
--
-- Encodings added here:
--  * runs.user: the submitting principal (NewRun::user), fixed at submission. Rows from
--    before this migration take their `user` tag, else 'anonymous'.
--  * runs.name: the `name` tag, NULL if the run has none; UpdateTags keeps it in step.
--  * run_counts.dim: 1 user, 2 workflow type, 3 tag (key is "tag_key=tag_value").
--  * history.type gains 4 TagsChanged.
--  * tasks.seq and history.seq are numbered per run (1, 2, 3, ...; rows copied from 0001
--    keep their old global numbers, which still increase within each run).

ALTER TABLE runs ADD COLUMN user TEXT NOT NULL DEFAULT 'anonymous';
ALTER TABLE runs ADD COLUMN name TEXT;
UPDATE runs SET user = coalesce(json_extract(tags, '$.user'), 'anonymous'),
                name = json_extract(tags, '$.name')
  WHERE tags IS NOT NULL;

-- Every tag of every run, for tag filters: a run with tag k=v is found through (k, v) in
-- submission order. runs.tags (JSON) stays the source the run is read back from; both are
-- written together (CreateRun, UpdateTags).
CREATE TABLE run_tags (
  key     TEXT    NOT NULL,
  value   TEXT    NOT NULL,
  run_seq INTEGER NOT NULL,
  PRIMARY KEY (key, value, run_seq)
) WITHOUT ROWID;

-- Number of runs per (dimension, key, state), kept in the same transaction as every change
-- by the triggers below, so that counts never scan runs.
CREATE TABLE run_counts (
  dim   INTEGER NOT NULL,
  key   TEXT    NOT NULL,
  state INTEGER NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (dim, key, state)
) WITHOUT ROWID;

-- Indexes for RunListQuery (run_query.cc picks one per query with INDEXED BY). Each
-- implicitly ends with seq (the rowid), which gives submission order within a key.
CREATE INDEX runs_by_user ON runs (user);
CREATE INDEX runs_by_state ON runs (state);
CREATE INDEX runs_by_user_state ON runs (user, state);
CREATE INDEX runs_by_workflow_type ON runs (workflow_type);
CREATE INDEX runs_by_name ON runs (name) WHERE name IS NOT NULL;
CREATE INDEX runs_by_submitted ON runs (submitted_at);
CREATE INDEX runs_by_updated ON runs (updated_at);
CREATE INDEX runs_by_state_updated ON runs (state, updated_at);
CREATE INDEX runs_by_user_updated ON runs (user, updated_at);

CREATE TRIGGER run_index_insert AFTER INSERT ON runs
BEGIN
  INSERT INTO run_counts (dim, key, state, count) VALUES (1, NEW.user, NEW.state, 1)
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + 1;
  INSERT INTO run_counts (dim, key, state, count) VALUES (2, NEW.workflow_type, NEW.state, 1)
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + 1;
END;

-- Tag counts of the run follow its state through runs.tags, which always lists exactly the
-- run's run_tags rows.
CREATE TRIGGER run_index_update AFTER UPDATE OF state ON runs
  WHEN OLD.state <> NEW.state
BEGIN
  UPDATE run_counts SET count = count - 1
    WHERE dim = 1 AND key = OLD.user AND state = OLD.state;
  INSERT INTO run_counts (dim, key, state, count) VALUES (1, NEW.user, NEW.state, 1)
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + 1;
  UPDATE run_counts SET count = count - 1
    WHERE dim = 2 AND key = OLD.workflow_type AND state = OLD.state;
  INSERT INTO run_counts (dim, key, state, count) VALUES (2, NEW.workflow_type, NEW.state, 1)
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + 1;
  UPDATE run_counts SET count = count - 1
    WHERE dim = 3 AND state = OLD.state
      AND key IN (SELECT j.key || '=' || j.value FROM json_each(OLD.tags) AS j);
  INSERT INTO run_counts (dim, key, state, count)
    SELECT 3, j.key || '=' || j.value, NEW.state, 1 FROM json_each(NEW.tags) AS j WHERE 1
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + 1;
END;

-- Removing the tag rows first (while the run still exists) lets their own trigger take them
-- out of the counts; a caller that removed them already leaves nothing to do here.
CREATE TRIGGER run_index_delete_tags BEFORE DELETE ON runs
BEGIN
  -- Written so that each row is found by its whole primary key (key, value, run_seq).
  DELETE FROM run_tags
    WHERE (key, value) IN (SELECT j.key, j.value FROM json_each(OLD.tags) AS j)
      AND run_seq = OLD.seq;
END;

CREATE TRIGGER run_index_delete AFTER DELETE ON runs
BEGIN
  UPDATE run_counts SET count = count - 1
    WHERE dim = 1 AND key = OLD.user AND state = OLD.state;
  UPDATE run_counts SET count = count - 1
    WHERE dim = 2 AND key = OLD.workflow_type AND state = OLD.state;
END;

CREATE TRIGGER run_tags_insert AFTER INSERT ON run_tags
BEGIN
  INSERT INTO run_counts (dim, key, state, count)
    SELECT 3, NEW.key || '=' || NEW.value, state, 1 FROM runs WHERE seq = NEW.run_seq
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + 1;
END;

CREATE TRIGGER run_tags_delete AFTER DELETE ON run_tags
BEGIN
  UPDATE run_counts SET count = count - 1
    WHERE dim = 3 AND key = OLD.key || '=' || OLD.value
      AND state = (SELECT state FROM runs WHERE seq = OLD.run_seq);
END;

-- Existing runs: counts first (the tag rows' trigger counts each tag as it is inserted).
INSERT INTO run_counts (dim, key, state, count)
  SELECT 1, user, state, count(*) FROM runs GROUP BY user, state;
INSERT INTO run_counts (dim, key, state, count)
  SELECT 2, workflow_type, state, count(*) FROM runs GROUP BY workflow_type, state;
INSERT INTO run_tags (key, value, run_seq)
  SELECT j.key, j.value, r.seq FROM runs AS r, json_each(r.tags) AS j WHERE r.tags IS NOT NULL;

-- Tasks clustered by run: the rows of one run sit together, keyed by (run, seq), without the
-- rowid table plus two indexes of 0001. The task id stays unique per run.
CREATE TABLE tasks_v4 (
  run_seq         INTEGER NOT NULL,
  seq             INTEGER NOT NULL,
  id              TEXT    NOT NULL,
  name            TEXT    NOT NULL,
  cmd             TEXT,
  state           INTEGER NOT NULL,
  executor        TEXT    NOT NULL,
  executor_job_id TEXT,
  exit_code       INTEGER,
  start_time      INTEGER,
  end_time        INTEGER,
  system_logs     TEXT,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  launch_spec     TEXT,
  PRIMARY KEY (run_seq, seq)
) WITHOUT ROWID;
INSERT INTO tasks_v4 (run_seq, seq, id, name, cmd, state, executor, executor_job_id, exit_code,
                      start_time, end_time, system_logs, created_at, updated_at, launch_spec)
  SELECT run_seq, seq, id, name, cmd, state, executor, executor_job_id, exit_code, start_time,
         end_time, system_logs, created_at, updated_at, launch_spec FROM tasks;

-- The audit trail clustered by run: task_seq is the task's seq within the same run.
CREATE TABLE history_v4 (
  run_seq    INTEGER NOT NULL,
  seq        INTEGER NOT NULL,
  task_seq   INTEGER,
  type       INTEGER NOT NULL,
  from_state INTEGER NOT NULL,
  to_state   INTEGER NOT NULL,
  at         INTEGER NOT NULL,
  reason     TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (run_seq, seq)
) WITHOUT ROWID;
INSERT INTO history_v4 (run_seq, seq, task_seq, type, from_state, to_state, at, reason)
  SELECT run_seq, seq, task_seq, type, from_state, to_state, at, reason FROM history;

DROP TABLE history;
DROP TABLE tasks;
ALTER TABLE tasks_v4 RENAME TO tasks;
ALTER TABLE history_v4 RENAME TO history;
CREATE UNIQUE INDEX tasks_by_id ON tasks (run_seq, id);
