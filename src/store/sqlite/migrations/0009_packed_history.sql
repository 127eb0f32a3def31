-- 0009: the history packed, one row per run and write (history_ops.h), instead of one row per
-- event: a state sync batch of hundreds of task changes over a few dozen runs appends a few
-- dozen rows. The old rows are re-encoded by code (history_ops.cc, PackHistoryMigration),
-- which then drops `history` and renames this table to it.
--  first_seq: the seq of the row's first event; event i has seq first_seq + i. A run's seqs
--  are 1, 2, 3, ... without gaps, so its rows are consecutive ranges.
--  events: per event (varints; strings length-prefixed): task seq plus one (0: a run-level
--  event), type (the history type code), from state, to state, at (zigzag; the first
--  absolute, then the difference to the previous event's), reason.
CREATE TABLE history_packed (
  run_seq   INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  n         INTEGER NOT NULL,
  events    BLOB    NOT NULL,
  PRIMARY KEY (run_seq, first_seq)
) WITHOUT ROWID;
