-- A workflow engine's own log per run (the ASL execution history). Keyed by (run, seq) and
-- stored without a rowid: the rows of one run sit together and are read in order.
CREATE TABLE run_events (
  run_seq    INTEGER NOT NULL REFERENCES runs (seq),
  seq        INTEGER NOT NULL,
  type       TEXT    NOT NULL,
  at         INTEGER NOT NULL,
  state_name TEXT    NOT NULL,
  scope      TEXT    NOT NULL,
  details    TEXT    NOT NULL,
  replay     INTEGER NOT NULL,
  PRIMARY KEY (run_seq, seq)
) WITHOUT ROWID;

-- The inputs an engine replays after a restart, without reading the derived entries.
CREATE INDEX run_events_replay ON run_events (run_seq, seq) WHERE replay = 1;
