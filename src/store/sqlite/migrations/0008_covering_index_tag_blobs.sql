-- 0008: listings of one user's runs read one index; tags are stored as a blob.
--
-- The (user, state) index holds every column a listing shows, so a page of one user's runs
-- in some states (the commonest dashboard query: "my failed runs", "my running runs") is read
-- from the index alone, a few consecutive pages, instead of one random page of `runs` per row.
-- seq is part of the key, so within (user, state) the entries are in submission order. The
-- entry was already rewritten on every state change; it is ~120 bytes wider.
DROP INDEX runs_by_user_state;
CREATE INDEX runs_by_user_state ON runs (user, state, seq, id, workflow_type, submitted_at,
                                         updated_at, start_time, end_time, name, tags);

-- runs.tags of new and changed runs is a blob (row_codec.h EncodeTags: decoding JSON text was
-- a fifth of a listing's cost); rows written before keep their JSON text, and the store reads
-- both. SQL can no longer read the tags from that column, so the triggers that keep the tag
-- counts find a run's tags in run_tags (which always holds exactly the run's tags), through
-- an index by run.
CREATE INDEX run_tags_by_run ON run_tags (run_seq);

DROP TRIGGER run_index_update_tags;
CREATE TRIGGER run_index_update_tags AFTER UPDATE OF state ON runs
  WHEN OLD.state <> NEW.state AND (OLD.tags IS NOT NULL OR NEW.tags IS NOT NULL)
BEGIN
  INSERT INTO run_counts (dim, key, state, count)
    SELECT 3, t.key || '=' || t.value, OLD.state, -1 FROM run_tags AS t WHERE t.run_seq = OLD.seq
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + excluded.count;
  INSERT INTO run_counts (dim, key, state, count)
    SELECT 3, t.key || '=' || t.value, NEW.state, 1 FROM run_tags AS t WHERE t.run_seq = NEW.seq
    ON CONFLICT (dim, key, state) DO UPDATE SET count = count + excluded.count;
END;

-- Removing the tag rows first (while the run still exists) lets their own trigger take them
-- out of the counts; a caller that removed them already leaves nothing to do here.
DROP TRIGGER run_index_delete_tags;
CREATE TRIGGER run_index_delete_tags BEFORE DELETE ON runs
BEGIN
  DELETE FROM run_tags WHERE run_seq = OLD.seq;
END;
