-- The same partial indexes and maintained counts as before, cheaper to keep up to date.
--
-- SQLite evaluates the WHERE clause of every partial index on the old and on the new row of
-- each UPDATE of runs, and compiles `state IN (5, 6, 7, 8, 10)` into an ephemeral table each
-- time it runs: eight of them per run state change, plus one for the `key IN (SELECT ...)` of
-- the tag counts. That was about 60% of the cost of a run state change (~457,000 instructions
-- before, ~168,000 after). The predicates now say the same with comparisons: the terminal
-- states (common/state.h) are 5 to 10 except CANCELING (9), i.e. `state >= 5 AND state <> 9`;
-- the others are `state < 5 OR state = 9`. Queries repeat these clauses exactly
-- (statements.h SLUICE_RUN_ACTIVE / SLUICE_RUN_ENDED) so SQLite can use the indexes.
DROP INDEX runs_active;
CREATE INDEX runs_active ON runs (seq) WHERE state < 5 OR state = 9;
DROP INDEX runs_active_by_owner;
CREATE INDEX runs_active_by_owner ON runs (owner) WHERE state < 5 OR state = 9;
DROP INDEX runs_ended;
CREATE INDEX runs_ended ON runs (coalesce(end_time, updated_at), seq)
  WHERE state >= 5 AND state <> 9;
DROP INDEX runs_to_archive;
CREATE INDEX runs_to_archive ON runs (coalesce(end_time, updated_at), seq)
  WHERE state >= 5 AND state <> 9 AND archived = 0;

-- Counts per (user | workflow type, state), as in 0004; the tag counts move to their own
-- trigger, which runs only for runs with tags and moves each (tag, state) count with an upsert
-- (-1 for the old state, +1 for the new) instead of `UPDATE ... WHERE key IN (SELECT ...)`.
-- The old state's row exists (the run was counted there), so the upsert only ever updates it.
DROP TRIGGER run_index_update;
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
END;
CREATE TRIGGER run_index_update_tags AFTER UPDATE OF state ON runs
  WHEN OLD.state <> NEW.state AND (OLD.tags IS NOT NULL OR NEW.tags IS NOT NULL)
BEGIN
  INSERT INTO run_counts (dim, key, state, count)
    SELECT 3, j.key || '=' || j.value, OLD.state, -1 FROM json_each(OLD.tags) AS j WHERE 1
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + excluded.count;
  INSERT INTO run_counts (dim, key, state, count)
    SELECT 3, j.key || '=' || j.value, NEW.state, 1 FROM json_each(NEW.tags) AS j WHERE 1
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + excluded.count;
END;
