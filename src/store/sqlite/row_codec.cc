#include "store/sqlite/row_codec.h"

#include <exception>
#include <nlohmann/json.hpp>
#include <type_traits>
#include <utility>

#include "common/json.h"
#include "store/varint.h"

namespace sluice::store::sqlite {
namespace {

// Dumps `j` compactly; nlohmann throws on invalid UTF-8, which a caller can send.
Result<std::string> Dump(const Json& j, std::string_view what) {
  try {
    return j.dump();
  } catch (const std::exception& e) {
    return InvalidArgument(std::string(what) + ": " + e.what());
  }
}

Status Corrupt(std::string_view what, std::string_view detail) {
  return Internal("stored " + std::string(what) + " is malformed: " + std::string(detail));
}

}  // namespace

Result<std::string> EncodeStringMap(const StringMap& map, std::string_view what) {
  if (map.empty()) return std::string();
  return Dump(Json(map), what);
}

Result<std::string> EncodeStringList(const std::vector<std::string>& list, std::string_view what) {
  if (list.empty()) return std::string();
  return Dump(Json(list), what);
}

namespace {

// Reads a stored JSON object of strings (or array of strings) straight into `Out`, without
// building a JSON document first: listings decode every row's tags, and the document was most
// of that cost. Anything but the expected shape stops the parse with `error` set.
template <typename Out>
class StringsReader final : public nlohmann::json_sax<Json> {
 public:
  explicit StringsReader(Out* out) : out_(out) {}
  std::string error;

  bool null() override { return Fail("not a string"); }
  bool boolean(bool) override { return Fail("not a string"); }
  bool number_integer(number_integer_t) override { return Fail("not a string"); }
  bool number_unsigned(number_unsigned_t) override { return Fail("not a string"); }
  bool number_float(number_float_t, const string_t&) override { return Fail("not a string"); }
  bool binary(binary_t&) override { return Fail("not a string"); }
  bool string(string_t& value) override {
    if (depth_ != 1) return Fail(kShape);
    if constexpr (kIsMap) {
      out_->insert_or_assign(std::move(key_), std::move(value));  // the last wins, as in JSON
    } else {
      out_->push_back(std::move(value));
    }
    return true;
  }
  bool start_object(std::size_t) override { return kIsMap && depth_++ == 0 ? true : Fail(kShape); }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool end_object() override { return --depth_, true; }
  bool start_array(std::size_t) override { return !kIsMap && depth_++ == 0 ? true : Fail(kShape); }
  bool end_array() override { return --depth_, true; }
  bool parse_error(std::size_t position, const std::string&,
                   const nlohmann::detail::exception& e) override {
    return Fail("invalid JSON at byte " + std::to_string(position) + ": " + e.what());
  }

 private:
  static constexpr bool kIsMap = std::is_same_v<Out, StringMap>;
  static constexpr const char* kShape =
      kIsMap ? "not an object of strings" : "not an array of strings";
  bool Fail(std::string why) {
    if (error.empty()) error = std::move(why);
    return false;
  }
  Out* out_;
  std::string key_;
  int depth_ = 0;
};

template <typename Out>
Result<Out> DecodeStrings(std::string_view text, std::string_view what) {
  Out out;
  if (text.empty()) return out;
  StringsReader<Out> reader(&out);
  if (!Json::sax_parse(text.begin(), text.end(), &reader) || !reader.error.empty()) {
    return Corrupt(what, reader.error.empty() ? "invalid JSON" : reader.error);
  }
  return out;
}

}  // namespace

Result<StringMap> DecodeStringMap(std::string_view text, std::string_view what) {
  return DecodeStrings<StringMap>(text, what);
}

Result<std::vector<std::string>> DecodeStringList(std::string_view text, std::string_view what) {
  return DecodeStrings<std::vector<std::string>>(text, what);
}

std::string EncodeTags(const StringMap& tags) {
  std::string out;
  for (const auto& [key, value] : tags) {
    PutString(out, key);
    PutString(out, value);
  }
  return out;
}

Result<StringMap> ReadTags(const Stmt& stmt, int col) {
  if (!stmt.ColumnIsBlob(col)) return DecodeStringMap(stmt.ColumnText(col), "runs.tags");
  std::string_view in = stmt.ColumnBlob(col);
  StringMap tags;
  while (!in.empty()) {
    std::string key, value;
    if (!GetString(in, &key) || !GetString(in, &value)) {
      return Corrupt("runs.tags", "a tag is cut short");
    }
    tags.insert_or_assign(tags.end(), std::move(key), std::move(value));
  }
  return tags;
}

Result<EncodedRequest> EncodeRequest(const RunRequest& request) {
  EncodedRequest e;
  ASSIGN_OR_RETURN(e.engine_params, EncodeStringMap(request.workflow_engine_parameters,
                                                    "workflow_engine_parameters"));
  ASSIGN_OR_RETURN(e.tags, EncodeStringMap(request.tags, "tags"));
  e.tags_blob = EncodeTags(request.tags);
  ASSIGN_OR_RETURN(e.attachments, EncodeStringList(request.attachments, "workflow_attachment"));
  return e;
}

Result<std::vector<EncodedTask>> EncodeNewTasks(const std::vector<TaskRecord>& tasks) {
  std::vector<EncodedTask> encoded;
  encoded.reserve(tasks.size());
  for (const TaskRecord& task : tasks) {
    if (task.id.empty()) return InvalidArgument("task id must not be empty");
    EncodedTask e;
    ASSIGN_OR_RETURN(e.cmd, EncodeStringList(task.cmd, "task cmd"));
    ASSIGN_OR_RETURN(e.logs, EncodeStringList(task.system_logs, "task system_logs"));
    encoded.push_back(std::move(e));
  }
  return encoded;
}

State StateFromColumn(int64_t value) {
  if (value < 0 || value >= kStateCount) return State::kUnknown;
  return static_cast<State>(value);
}

Result<RunRecord> ReadRun(const Stmt& s) {
  RunRecord r;
  r.seq = s.ColumnInt(0);
  r.id = s.ColumnText(1);
  r.state = StateFromColumn(s.ColumnInt(2));
  r.request.workflow_type = s.ColumnText(3);
  r.request.workflow_type_version = s.ColumnText(4);
  r.request.workflow_url = s.ColumnText(5);
  r.request.workflow_params = s.ColumnText(6);
  r.request.workflow_engine = s.ColumnText(7);
  r.request.workflow_engine_version = s.ColumnText(8);
  ASSIGN_OR_RETURN(r.request.workflow_engine_parameters,
                   DecodeStringMap(s.ColumnText(9), "runs.engine_params"));
  ASSIGN_OR_RETURN(r.request.tags, ReadTags(s, 10));
  ASSIGN_OR_RETURN(r.request.attachments, DecodeStringList(s.ColumnText(11), "runs.attachments"));
  r.submitted_at = s.ColumnInt(12);
  r.updated_at = s.ColumnInt(13);
  r.start_time = s.ColumnOptionalInt(14);
  r.end_time = s.ColumnOptionalInt(15);
  r.outputs = s.ColumnIsNull(16) ? "{}" : s.ColumnText(16);
  ASSIGN_OR_RETURN(r.system_logs, DecodeStringList(s.ColumnText(17), "runs.system_logs"));
  r.idempotency_key = s.ColumnText(18);
  r.owner = s.ColumnText(19);
  r.lease_until = s.ColumnInt(20);
  r.user = s.ColumnText(21);
  r.name = s.ColumnText(22);
  return r;
}

Result<RunRecord> ReadRunSummary(const Stmt& s) {
  RunRecord r;
  r.seq = s.ColumnInt(0);
  r.id = s.ColumnText(1);
  r.state = StateFromColumn(s.ColumnInt(2));
  r.request.workflow_type = s.ColumnText(3);
  ASSIGN_OR_RETURN(r.request.tags, ReadTags(s, 4));
  r.submitted_at = s.ColumnInt(5);
  r.updated_at = s.ColumnInt(6);
  r.start_time = s.ColumnOptionalInt(7);
  r.end_time = s.ColumnOptionalInt(8);
  r.user = s.ColumnText(9);
  r.name = s.ColumnText(10);
  return r;
}

Result<TaskRecord> ReadTask(const Stmt& s, std::string_view run_id) {
  TaskRecord t;
  t.run_id = std::string(run_id);
  t.seq = s.ColumnInt(0);
  t.id = s.ColumnText(1);
  t.name = s.ColumnText(2);
  ASSIGN_OR_RETURN(t.cmd, DecodeStringList(s.ColumnText(3), "tasks.cmd"));
  t.executor = s.ColumnText(4);
  t.created_at = s.ColumnInt(5);
  t.launch_spec = s.ColumnText(6);
  return t;
}

int HistoryTypeCode(std::string_view type) {
  if (type == "RunStateChanged") return 1;
  if (type == "TaskStateChanged") return 2;
  if (type == "TaskCreated") return 3;
  if (type == "TagsChanged") return 4;
  return 0;
}

std::string_view HistoryTypeName(int64_t code) {
  switch (code) {
    case 1:
      return "RunStateChanged";
    case 2:
      return "TaskStateChanged";
    case 3:
      return "TaskCreated";
    case 4:
      return "TagsChanged";
    default:
      return "Unknown";
  }
}

}  // namespace sluice::store::sqlite
