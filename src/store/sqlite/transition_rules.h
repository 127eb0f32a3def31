// The state-change rules of store/run_store.h applied to a stored row: what a run or task
// transition changes in the row, shared by both SQL backends (SQLite here, and the
// PostgreSQL store, which stores these columns in the same encodings; see row_codec.h), and
// what a tag update changes.
// Each backend reads the row (locked), calls Apply*Transition, writes the row back when it
// says so, and appends the history event when the state changed.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/clock.h"
#include "common/state.h"
#include "common/status.h"
#include "store/run_store.h"

namespace sluice::store::sqlite {

// The columns of a runs row a transition may change (outputs and system_logs as stored:
// JSON text, "" when empty).
struct StoredRunState {
  State state = State::kUnknown;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  std::string outputs;
  std::string system_logs;
  Micros updated_at = 0;
};

// The columns of a tasks row a transition may change (system_logs as stored).
struct StoredTaskState {
  State state = State::kUnknown;
  std::string executor_job_id;
  std::optional<int64_t> exit_code;
  std::optional<Micros> start_time;
  std::optional<Micros> end_time;
  std::string system_logs;
  Micros updated_at = 0;
};

// Applies `t` to `row`: kConflict if expected_from differs, kFailedPrecondition for a move
// backwards or out of a terminal state (the row is then untouched). Otherwise sets `*out`
// and returns whether the row must be written: a change of state (out->changed, a history
// event is due), or a same-state repeat that filled in what the row lacked (start/end time,
// outputs).
Result<bool> ApplyRunTransition(const RunTransition& t, StoredRunState& row,
                                TransitionOutcome* out);

// The same for a task: a same-state repeat fills in times, a job id and an exit code the
// row lacks. Errors name the task as "run/task".
Result<bool> ApplyTaskTransition(const TaskTransition& t, StoredTaskState& row,
                                 TransitionOutcome* out);

// What RunStore::UpdateTags changes in a run whose tags are `tags`: `set` wins over `remove`
// for the same key, a value set to what it is already and a removal of a missing key change
// nothing. Each backend deletes `drop` and inserts `insert` in its run_tags rows, then (if
// `change` is not empty) stores `tags` and a TagsChanged event with `change` as its reason.
struct TagPatch {
  std::vector<std::pair<std::string, std::string>> drop;    // (key, old value)
  std::vector<std::pair<std::string, std::string>> insert;  // (key, new value)
  StringMap tags;                                           // the run's tags afterwards
  std::string change;  // "removed k1; set k2=v", "" when nothing changes
};
TagPatch PlanTagPatch(StringMap tags, const StringMap& set, const std::vector<std::string>& remove);

}  // namespace sluice::store::sqlite
