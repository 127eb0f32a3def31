-- 0009: the history packed, one row per run and write (history_ops.h), instead of one row per
-- event: a state sync batch of hundreds of task changes over a few dozen runs appends a few
-- dozen rows. The old table is kept as history_v8 until code (history_ops.cc,
-- PackHistoryMigration) has re-encoded its rows into this one, and then dropped.
--  first_seq: the seq of the row's first event; event i has seq first_seq + i. A run's seqs
--  are 1, 2, 3, ... without gaps, so its rows are consecutive ranges.
--  events: per event (varints; strings length-prefixed): task seq plus one (0: a run-level
--  event), type (the history type code), from state, to state, at (zigzag; the first
--  absolute, then the difference to the previous event's), reason.
ALTER TABLE history RENAME TO history_v8;
CREATE TABLE history (
  run_seq   INTEGER NOT NULL,
  first_seq INTEGER NOT NULL,
  n         INTEGER NOT NULL,
  events    BLOB    NOT NULL,
  PRIMARY KEY (run_seq, first_seq)
) WITHOUT ROWID;
