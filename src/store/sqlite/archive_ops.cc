#include "store/sqlite/archive_ops.h"

#include <zlib.h>

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <utility>

#include "store/sqlite/history_ops.h"
#include "store/sqlite/row_codec.h"
#include "store/sqlite/statements.h"
#include "store/sqlite/task_state_ops.h"
#include "store/varint.h"

namespace sluice::store::sqlite {
namespace {

constexpr uint8_t kFormatV1 = 1;
// Larger encodings are refused when decoding (a corrupt length must not allocate gigabytes).
constexpr uint64_t kMaxEncodedBytes = 64u << 20;

// Text that tasks and history usually contain, given to deflate as a preset dictionary so the
// first occurrence in a run is a back-reference too. Part of format 1: never change it.
constexpr char kDictionary[] =
    "exit code 143exit code 1run ended EXECUTOR_ERRORrun ended SYSTEM_ERROR"
    "run ended CANCELEDcanceledfirst task submittedworkflow started"
    "{\"env\":{},\"cpus\":1,\"memory_gb\":1}/bin/bash/bin/sh-cecho '"
    "sleep 2.000000; echo 'mock task : working for 2.000000s'; sleep "
    "localsubmitted to local as job createdsubmittedtasks completed";

constexpr char kArchiveRun[] = "SELECT state, archived FROM runs WHERE seq = ?1";
constexpr char kCountTasks[] = "SELECT count(*) FROM tasks WHERE run_seq = ?1";
constexpr char kInsertArchive[] = "INSERT INTO run_archive (run_seq, data) VALUES (?1, ?2)";
constexpr char kDeleteHistory[] = "DELETE FROM history WHERE run_seq = ?1";
constexpr char kDeleteTasks[] = "DELETE FROM tasks WHERE run_seq = ?1";
constexpr char kDeleteTaskStates[] = "DELETE FROM task_states WHERE run_seq = ?1";
constexpr char kSetArchived[] = "UPDATE runs SET archived = ?2 WHERE seq = ?1";
constexpr char kUpdateArchive[] = "UPDATE run_archive SET data = ?2 WHERE run_seq = ?1";
constexpr char kReadArchive[] = "SELECT data FROM run_archive WHERE run_seq = ?1";
constexpr char kRunRef[] = "SELECT seq, state, archived FROM runs WHERE id = ?1";

// --- varint writer / reader ---

// Deltas wrap around (two's complement) instead of overflowing, so any int64 round-trips.
int64_t Minus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t Plus(int64_t a, int64_t b) {
  return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
}

class Writer {
 public:
  void U(uint64_t v) {
    while (v >= 0x80) {
      out_.push_back(static_cast<char>((v & 0x7f) | 0x80));
      v >>= 7;
    }
    out_.push_back(static_cast<char>(v));
  }
  void S(int64_t v) { U(ZigZag(v)); }
  void Str(std::string_view s) {
    U(s.size());
    out_.append(s);
  }
  void List(const std::vector<std::string>& list) {
    U(list.size());
    for (const std::string& s : list) Str(s);
  }
  // A time as a delta from the previous time written.
  void Time(Micros t) {
    S(Minus(t, prev_time_));
    prev_time_ = t;
  }
  std::string& out() { return out_; }

 private:
  std::string out_;
  Micros prev_time_ = 0;
};

class Reader {
 public:
  explicit Reader(std::string_view in) : in_(in) {}
  bool U(uint64_t* v) {
    uint64_t r = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= in_.size()) return false;
      uint8_t b = static_cast<uint8_t>(in_[pos_++]);
      r |= static_cast<uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) {
        *v = r;
        return true;
      }
    }
    return false;
  }
  bool S(int64_t* v) {
    uint64_t u;
    if (!U(&u)) return false;
    *v = UnZigZag(u);
    return true;
  }
  bool Str(std::string* s) {
    uint64_t n;
    if (!U(&n) || n > in_.size() - pos_) return false;
    s->assign(in_.substr(pos_, n));
    pos_ += n;
    return true;
  }
  bool List(std::vector<std::string>* list) {
    uint64_t n;
    if (!U(&n) || n > in_.size() - pos_) return false;
    list->resize(n);
    for (std::string& s : *list) {
      if (!Str(&s)) return false;
    }
    return true;
  }
  bool Time(Micros* t) {
    int64_t d;
    if (!S(&d)) return false;
    prev_time_ = Plus(prev_time_, d);
    *t = prev_time_;
    return true;
  }
  bool done() const { return pos_ == in_.size(); }
  size_t pos() const { return pos_; }

 private:
  std::string_view in_;
  size_t pos_ = 0;
  Micros prev_time_ = 0;
};

Status Malformed(std::string_view what) {
  return Internal("run_archive: malformed blob (" + std::string(what) + ")");
}

// zlib streams kept per thread: setting one up allocates and clears a few hundred KB, more
// than compressing a run takes (the bulk importer compresses thousands of runs a second).
struct ZStreams {
  z_stream deflater{};
  z_stream inflater{};
  bool deflater_ready = false;
  bool inflater_ready = false;
  ~ZStreams() {
    if (deflater_ready) deflateEnd(&deflater);
    if (inflater_ready) inflateEnd(&inflater);
  }
};

ZStreams& Streams() {
  thread_local ZStreams streams;
  return streams;
}

Result<std::string> Deflate(std::string_view raw) {
  ZStreams& zs = Streams();
  z_stream& z = zs.deflater;
  if (!zs.deflater_ready) {
    // memLevel 5: a 4K-entry hash, plenty for a few KB of input, and deflateReset clears it
    // for every run (the default's 64K entries cost more to clear than to compress a run).
    if (deflateInit2(&z, 6, Z_DEFLATED, -15, 5, Z_DEFAULT_STRATEGY) != Z_OK) {
      return Internal("run_archive: deflateInit2 failed");
    }
    zs.deflater_ready = true;
  } else if (deflateReset(&z) != Z_OK) {
    return Internal("run_archive: deflateReset failed");
  }
  deflateSetDictionary(&z, reinterpret_cast<const Bytef*>(kDictionary), sizeof kDictionary - 1);
  std::string out(deflateBound(&z, raw.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(raw.data()));
  z.avail_in = static_cast<uInt>(raw.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  if (rc != Z_STREAM_END) return Internal("run_archive: deflate failed");
  out.resize(out.size() - z.avail_out);
  return out;
}

Result<std::string> Inflate(std::string_view packed, size_t raw_size) {
  ZStreams& zs = Streams();
  z_stream& z = zs.inflater;
  if (!zs.inflater_ready) {
    if (inflateInit2(&z, -15) != Z_OK) return Internal("run_archive: inflateInit2 failed");
    zs.inflater_ready = true;
  } else if (inflateReset(&z) != Z_OK) {
    return Internal("run_archive: inflateReset failed");
  }
  inflateSetDictionary(&z, reinterpret_cast<const Bytef*>(kDictionary), sizeof kDictionary - 1);
  std::string out(raw_size, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(packed.data()));
  z.avail_in = static_cast<uInt>(packed.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&z, Z_FINISH);
  if (rc != Z_STREAM_END || z.avail_out != 0) return Malformed("deflate stream");
  return out;
}

bool ValidState(int64_t v) { return v >= 0 && v <= static_cast<int64_t>(State::kPreempted); }

Result<std::optional<std::string>> ReadBlob(Connection& db, int64_t run_seq) {
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(kReadArchive));
  RETURN_IF_ERROR(stmt.BindInt(1, run_seq));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<std::string>();
  return std::optional<std::string>(std::string(stmt.ColumnBlob(0)));
}

Result<RunArchive> LoadArchive(Connection& db, int64_t run_seq, std::string_view run_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> blob, ReadBlob(db, run_seq));
  if (!blob.has_value()) return RunArchive();  // archived with nothing (cannot happen)
  return DecodeRunArchive(*blob, run_id);
}

}  // namespace

Result<std::string> EncodeRunArchive(const RunArchive& archive) {
  Writer w;
  std::unordered_map<std::string_view, size_t> task_index;
  w.U(archive.tasks.size());
  int64_t prev_seq = 0;
  for (size_t i = 0; i < archive.tasks.size(); ++i) {
    const TaskRecord& t = archive.tasks[i];
    task_index.emplace(t.id, i);
    w.S(Minus(t.seq, prev_seq));
    prev_seq = t.seq;
    w.Str(t.id);
    w.Str(t.name);
    w.List(t.cmd);
    w.Str(t.launch_spec);
    w.U(static_cast<uint64_t>(t.state));
    w.Str(t.executor);
    w.Str(t.executor_job_id);
    w.U((t.exit_code ? 1 : 0) | (t.start_time ? 2 : 0) | (t.end_time ? 4 : 0));
    if (t.exit_code) w.S(*t.exit_code);
    w.Time(t.created_at);
    if (t.start_time) w.Time(*t.start_time);
    if (t.end_time) w.Time(*t.end_time);
    w.Time(t.updated_at);
    w.List(t.system_logs);
  }
  w.U(archive.events.size());
  prev_seq = 0;
  Micros prev_at = 0;
  for (const HistoryEvent& e : archive.events) {
    w.S(Minus(e.seq, prev_seq));
    prev_seq = e.seq;
    const TaskRecord* task = nullptr;
    if (e.task_id.empty()) {
      w.U(0);
    } else {
      auto it = task_index.find(e.task_id);
      if (it == task_index.end()) {
        return InvalidArgument("history event names task \"" + e.task_id +
                               "\", not in the archive");
      }
      task = &archive.tasks[it->second];
      w.U(it->second + 1);
    }
    w.U(static_cast<uint64_t>(HistoryTypeCode(e.type)));
    w.U(static_cast<uint64_t>(e.from));
    w.U(static_cast<uint64_t>(e.to));
    int kind = 0;
    if (task != nullptr) {
      if (e.at == task->created_at) {
        kind = 1;
      } else if (task->start_time && e.at == *task->start_time) {
        kind = 2;
      } else if (task->end_time && e.at == *task->end_time) {
        kind = 3;
      } else if (e.at == task->updated_at) {
        kind = 4;
      }
    }
    w.U(kind);
    if (kind == 0) w.S(Minus(e.at, prev_at));
    prev_at = e.at;
    w.Str(e.reason);
  }
  ASSIGN_OR_RETURN(std::string packed, Deflate(w.out()));
  Writer head;
  head.out().push_back(static_cast<char>(kFormatV1));
  head.U(w.out().size());
  head.out().append(packed);
  return std::move(head.out());
}

Result<RunArchive> DecodeRunArchive(std::string_view blob, std::string_view run_id) {
  if (blob.empty() || static_cast<uint8_t>(blob[0]) != kFormatV1) return Malformed("version");
  Reader head(blob.substr(1));
  uint64_t raw_size;
  if (!head.U(&raw_size) || raw_size > kMaxEncodedBytes) return Malformed("length");
  ASSIGN_OR_RETURN(std::string raw, Inflate(blob.substr(1 + head.pos()), raw_size));
  Reader r(raw);
  RunArchive out;
  uint64_t n;
  if (!r.U(&n) || n > raw.size()) return Malformed("task count");
  out.tasks.resize(n);
  int64_t seq = 0;
  for (TaskRecord& t : out.tasks) {
    int64_t d, v;
    uint64_t state, bits;
    t.run_id = std::string(run_id);
    if (!r.S(&d)) return Malformed("task seq");
    seq = Plus(seq, d);
    t.seq = seq;
    if (!r.Str(&t.id) || !r.Str(&t.name) || !r.List(&t.cmd) || !r.Str(&t.launch_spec) ||
        !r.U(&state) || !ValidState(static_cast<int64_t>(state)) || !r.Str(&t.executor) ||
        !r.Str(&t.executor_job_id) || !r.U(&bits)) {
      return Malformed("task");
    }
    t.state = static_cast<State>(state);
    if (bits & 1) {
      if (!r.S(&v)) return Malformed("exit code");
      t.exit_code = static_cast<int>(v);
    }
    Micros at;
    if (!r.Time(&t.created_at)) return Malformed("task times");
    if (bits & 2) {
      if (!r.Time(&at)) return Malformed("task times");
      t.start_time = at;
    }
    if (bits & 4) {
      if (!r.Time(&at)) return Malformed("task times");
      t.end_time = at;
    }
    if (!r.Time(&t.updated_at) || !r.List(&t.system_logs)) return Malformed("task");
  }
  if (!r.U(&n) || n > raw.size()) return Malformed("event count");
  out.events.resize(n);
  seq = 0;
  Micros prev_at = 0;
  for (HistoryEvent& e : out.events) {
    int64_t d;
    uint64_t task, type, from, to, kind;
    e.run_id = std::string(run_id);
    if (!r.S(&d) || !r.U(&task) || task > out.tasks.size() || !r.U(&type) || !r.U(&from) ||
        !ValidState(static_cast<int64_t>(from)) || !r.U(&to) ||
        !ValidState(static_cast<int64_t>(to)) || !r.U(&kind) || kind > 4) {
      return Malformed("event");
    }
    seq = Plus(seq, d);
    e.seq = seq;
    e.type = std::string(HistoryTypeName(static_cast<int64_t>(type)));
    e.from = static_cast<State>(from);
    e.to = static_cast<State>(to);
    const TaskRecord* t = task == 0 ? nullptr : &out.tasks[task - 1];
    if (t != nullptr) e.task_id = t->id;
    if (kind == 0) {
      if (!r.S(&d)) return Malformed("event time");
      e.at = Plus(prev_at, d);
    } else if (t == nullptr) {
      return Malformed("event time");
    } else if (kind == 1) {
      e.at = t->created_at;
    } else if (kind == 2 && t->start_time) {
      e.at = *t->start_time;
    } else if (kind == 3 && t->end_time) {
      e.at = *t->end_time;
    } else if (kind == 4) {
      e.at = t->updated_at;
    } else {
      return Malformed("event time");
    }
    prev_at = e.at;
    if (!r.Str(&e.reason)) return Malformed("event reason");
  }
  if (!r.done()) return Malformed("trailing bytes");
  return out;
}

Result<bool> ArchiveRunOp(Connection& db, int64_t run_seq) {
  State state;
  int64_t archived;
  {
    ASSIGN_OR_RETURN(Stmt run, db.Prepare(kArchiveRun));
    RETURN_IF_ERROR(run.BindInt(1, run_seq));
    ASSIGN_OR_RETURN(bool found, run.Step());
    if (!found) return NotFound("run seq " + std::to_string(run_seq) + " not found");
    state = StateFromColumn(run.ColumnInt(0));
    archived = run.ColumnInt(1);
  }
  if (!IsTerminal(state) || archived == kRunArchived) return false;
  auto keep_rows = [&]() -> Result<bool> {
    ASSIGN_OR_RETURN(Stmt set, db.Prepare(kSetArchived));
    RETURN_IF_ERROR(set.BindInt(1, run_seq));
    RETURN_IF_ERROR(set.BindInt(2, kRunKeptAsRows));
    RETURN_IF_ERROR(set.Run());
    return false;
  };
  {
    ASSIGN_OR_RETURN(Stmt count, db.Prepare(kCountTasks));
    RETURN_IF_ERROR(count.BindInt(1, run_seq));
    ASSIGN_OR_RETURN(bool row, count.Step());
    if (row && count.ColumnInt(0) > kMaxArchivedTasks) return keep_rows();
  }
  RunArchive archive;
  ASSIGN_OR_RETURN(archive.tasks, ReadTaskRows(db, run_seq, "", 0, kMaxArchivedTasks + 1));
  for (const TaskRecord& task : archive.tasks) {
    if (!IsTerminal(task.state)) return keep_rows();
  }
  ASSIGN_OR_RETURN(archive.events,
                   ReadHistory(db, run_seq, 0, std::numeric_limits<int64_t>::max()));
  ASSIGN_OR_RETURN(std::string blob, EncodeRunArchive(archive));
  {
    ASSIGN_OR_RETURN(Stmt insert, db.Prepare(kInsertArchive));
    RETURN_IF_ERROR(insert.BindInt(1, run_seq));
    RETURN_IF_ERROR(insert.BindBlobOrNull(2, blob));
    RETURN_IF_ERROR(insert.Run());
  }
  for (const char* text : {kDeleteHistory, kDeleteTaskStates, kDeleteTasks}) {
    ASSIGN_OR_RETURN(Stmt del, db.Prepare(text));
    RETURN_IF_ERROR(del.BindInt(1, run_seq));
    RETURN_IF_ERROR(del.Run());
  }
  ASSIGN_OR_RETURN(Stmt set, db.Prepare(kSetArchived));
  RETURN_IF_ERROR(set.BindInt(1, run_seq));
  RETURN_IF_ERROR(set.BindInt(2, kRunArchived));
  RETURN_IF_ERROR(set.Run());
  return true;
}

Result<int> ArchiveEndedRunsOp(Connection& db, Micros ended_before, int limit) {
  if (limit < 1) return 0;
  std::vector<int64_t> seqs;
  {
    ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(kRunsToArchiveQuery));
    RETURN_IF_ERROR(stmt.BindInt(1, ended_before));
    RETURN_IF_ERROR(stmt.BindInt(2, limit));
    for (;;) {
      ASSIGN_OR_RETURN(bool row, stmt.Step());
      if (!row) break;
      seqs.push_back(stmt.ColumnInt(0));
    }
  }
  int archived = 0;
  for (int64_t seq : seqs) {
    ASSIGN_OR_RETURN(bool done, ArchiveRunOp(db, seq));
    if (done) ++archived;
  }
  return archived;
}

Result<std::optional<RunRef>> FindRunRef(Connection& db, std::string_view run_id) {
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(kRunRef));
  RETURN_IF_ERROR(stmt.BindText(1, run_id));
  ASSIGN_OR_RETURN(bool row, stmt.Step());
  if (!row) return std::optional<RunRef>();
  RunRef ref;
  ref.seq = stmt.ColumnInt(0);
  ref.state = StateFromColumn(stmt.ColumnInt(1));
  ref.archived = stmt.ColumnInt(2) == kRunArchived;
  return std::optional<RunRef>(ref);
}

Result<TaskRecord> GetArchivedTask(Connection& db, int64_t run_seq, std::string_view run_id,
                                   std::string_view task_id) {
  ASSIGN_OR_RETURN(RunArchive archive, LoadArchive(db, run_seq, run_id));
  for (TaskRecord& t : archive.tasks) {
    if (t.id == task_id) return std::move(t);
  }
  return NotFound("task \"" + std::string(run_id) + "/" + std::string(task_id) + "\" not found");
}

Result<TaskPage> ListArchivedTasks(Connection& db, int64_t run_seq, const TaskListQuery& query) {
  ASSIGN_OR_RETURN(RunArchive archive, LoadArchive(db, run_seq, query.run_id));
  TaskPage page;
  int64_t after = query.after_seq.value_or(0);
  for (TaskRecord& t : archive.tasks) {
    if (t.seq <= after) continue;
    if (static_cast<int>(page.tasks.size()) == query.page_size) {
      page.next_after_seq = page.tasks.back().seq;
      break;
    }
    page.tasks.push_back(std::move(t));
  }
  return page;
}

Result<HistoryPage> ListArchivedHistory(Connection& db, int64_t run_seq,
                                        const HistoryQuery& query) {
  ASSIGN_OR_RETURN(RunArchive archive, LoadArchive(db, run_seq, query.run_id));
  HistoryPage page;
  int64_t after = query.after_seq.value_or(0);
  for (HistoryEvent& e : archive.events) {
    if (e.seq <= after) continue;
    if (static_cast<int>(page.events.size()) == query.page_size) {
      page.next_after_seq = page.events.back().seq;
      break;
    }
    page.events.push_back(std::move(e));
  }
  return page;
}

Result<bool> AppendArchivedEventOp(Connection& db, int64_t run_seq, HistoryEvent event) {
  ASSIGN_OR_RETURN(std::optional<std::string> blob, ReadBlob(db, run_seq));
  if (!blob.has_value()) return false;
  ASSIGN_OR_RETURN(RunArchive archive, DecodeRunArchive(*blob, ""));
  event.run_id.clear();
  event.task_id.clear();
  event.seq = archive.events.empty() ? 1 : archive.events.back().seq + 1;
  archive.events.push_back(std::move(event));
  ASSIGN_OR_RETURN(std::string updated, EncodeRunArchive(archive));
  ASSIGN_OR_RETURN(Stmt stmt, db.Prepare(kUpdateArchive));
  RETURN_IF_ERROR(stmt.BindInt(1, run_seq));
  RETURN_IF_ERROR(stmt.BindBlobOrNull(2, updated));
  RETURN_IF_ERROR(stmt.Run());
  return true;
}

Result<std::optional<State>> ArchivedTaskState(Connection& db, int64_t run_seq,
                                               std::string_view task_id) {
  ASSIGN_OR_RETURN(std::optional<std::string> blob, ReadBlob(db, run_seq));
  if (!blob.has_value()) return std::optional<State>();
  ASSIGN_OR_RETURN(RunArchive archive, DecodeRunArchive(*blob, ""));
  for (const TaskRecord& t : archive.tasks) {
    if (t.id == task_id) return std::optional<State>(t.state);
  }
  return std::optional<State>();
}

}  // namespace sluice::store::sqlite
