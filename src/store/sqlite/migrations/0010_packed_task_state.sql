-- 0010: task state packed (task_state_ops.h). What changes as a task runs moves out of its row
-- into task_states, one row per run and chunk of 64 tasks: task seq s is entry (s - 1) % 64 of
-- chunk (s - 1) / 64. A state sync batch then rewrites one small row per run it touches
-- instead of one wide task row per event. Code (task_state_ops.cc, PackTaskStateMigration)
-- fills the chunks from the old columns and rebuilds `tasks` without them.
--  states: per entry (varints; strings length-prefixed): state, updated_at (zigzag), executor
--  job id, exit code, start time, end time (each 0 when absent, else its zigzag plus one),
--  system logs (the JSON list text, "" when none).
CREATE TABLE task_states (
  run_seq INTEGER NOT NULL,
  chunk   INTEGER NOT NULL,
  states  BLOB    NOT NULL,
  PRIMARY KEY (run_seq, chunk)
) WITHOUT ROWID;
