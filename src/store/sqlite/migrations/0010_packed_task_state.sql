-- 0010: task state packed (task_state_ops.h). What changes as a task runs moves out of its row
-- into task_states, one row per run and chunk of 64 tasks: task seq s is entry (s - 1) % 64 of
-- chunk (s - 1) / 64. A state sync batch then rewrites one small row per run it touches
-- instead of one wide task row per event. `tasks` is rebuilt without those columns; the old
-- table is kept as tasks_v9 until code (task_state_ops.cc, PackTaskStateMigration) has filled
-- the chunks from its columns, and then dropped.
--  states: per entry (varints; strings length-prefixed): state, updated_at (zigzag), executor
--  job id, exit code, start time, end time (each 0 when absent, else its zigzag plus one),
--  system logs (the JSON list text, "" when none).
CREATE TABLE task_states (
  run_seq INTEGER NOT NULL,
  chunk   INTEGER NOT NULL,
  states  BLOB    NOT NULL,
  PRIMARY KEY (run_seq, chunk)
) WITHOUT ROWID;
DROP INDEX tasks_by_id;
ALTER TABLE tasks RENAME TO tasks_v9;
CREATE TABLE tasks (
  run_seq     INTEGER NOT NULL,
  seq         INTEGER NOT NULL,
  id          TEXT    NOT NULL,
  name        TEXT    NOT NULL,
  cmd         TEXT,
  executor    TEXT    NOT NULL,
  created_at  INTEGER NOT NULL,
  launch_spec TEXT,
  PRIMARY KEY (run_seq, seq)
) WITHOUT ROWID;
INSERT INTO tasks (run_seq, seq, id, name, cmd, executor, created_at, launch_spec)
  SELECT run_seq, seq, id, name, cmd, executor, created_at, launch_spec FROM tasks_v9;
CREATE UNIQUE INDEX tasks_by_id ON tasks (run_seq, id);
