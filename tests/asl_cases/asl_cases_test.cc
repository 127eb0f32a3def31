// Runs the data-driven ASL cases of tests/asl_cases/ against the real `sluice` binary: one
// parameterized test per case file, discovered when the test binary starts. Each case runs
// `sluice asl run` (or `sluice asl validate`) as a child process in its own temp directory
// (exported to bound commands as $CASE_TMP; the case file's directory is $CASE_DIR), so
// cases can run in parallel under `ctest -j`. The case format is described in README.md.
//
// Thread-safety: single-threaded test code.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace sluice::asl_cases {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;
using PlainJson = nlohmann::json;  // sorted keys: member order does not matter in results

constexpr double kDefaultTimeoutSeconds = 30;

struct Case {
  std::string test_name;  // gtest-safe: [A-Za-z0-9_]
  std::string id;         // "choice/string_equals"
  fs::path file;          // the case file (case.json for a directory case)
};

std::string SafeName(const std::string& id) {
  std::string out;
  for (char c : id) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  return out;
}

// Every *.json file is a case, except definitions (*.asl.json), anything under a directory
// whose name starts with '_', and the other files of a directory case (a directory holding
// case.json is one case named after the directory).
std::vector<Case> DiscoverCases() {
  std::vector<Case> cases;
  const fs::path root = ASL_CASES_DIR;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(root, ec); it != fs::end(it); it.increment(ec)) {
    if (ec) break;
    const fs::path& p = it->path();
    const std::string base = p.filename().string();
    if (it->is_directory()) {
      if (!base.empty() && base[0] == '_') {
        it.disable_recursion_pending();
      } else if (fs::exists(p / "case.json")) {
        std::string id = fs::relative(p, root).generic_string();
        cases.push_back({SafeName(id), id, p / "case.json"});
        it.disable_recursion_pending();
      }
      continue;
    }
    if (p.extension() != ".json" || base.ends_with(".asl.json")) continue;
    std::string id = fs::relative(p, root).generic_string();
    id.resize(id.size() - 5);
    cases.push_back({SafeName(id), id, p});
  }
  std::sort(cases.begin(), cases.end(), [](const Case& a, const Case& b) { return a.id < b.id; });
  std::set<std::string> seen;
  for (Case& c : cases) {
    std::string name = c.test_name;
    for (int n = 2; !seen.insert(name).second; ++n) name = c.test_name + "_" + std::to_string(n);
    c.test_name = name;
  }
  return cases;
}

std::string ReadFile(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const fs::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary);
  out << text;
}

// A string value is written as is; any other JSON value as its JSON text.
std::string FileText(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(2); }

struct ProcessResult {
  int exit_code = -1;
  bool timed_out = false;
  double seconds = 0;
  std::string out;
  std::string err;
};

// Runs argv[0] with `argv` in `cwd`, stdout/stderr to files there, stdin from /dev/null, in
// its own process group (killed as a whole on timeout and after exit, so no bound command
// outlives its case).
ProcessResult RunProcess(const std::vector<std::string>& argv, const fs::path& cwd,
                         const std::map<std::string, std::string>& env, double timeout_s) {
  ProcessResult r;
  const fs::path out_path = cwd / ".stdout", err_path = cwd / ".stderr";
  auto start = std::chrono::steady_clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    int in = open("/dev/null", O_RDONLY);
    int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(126);
    dup2(in, 0);
    dup2(out, 1);
    dup2(err, 2);
    for (const auto& [k, v] : env) setenv(k.c_str(), v.c_str(), 1);
    std::vector<char*> args;
    for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  if (pid < 0) {
    r.err = "fork failed";
    return r;
  }
  setpgid(pid, pid);
  int status = 0;
  auto deadline = start + std::chrono::duration<double>(timeout_s);
  while (true) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (std::chrono::steady_clock::now() > deadline) {
      r.timed_out = true;
      kill(-pid, SIGKILL);
      waitpid(pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  kill(-pid, SIGKILL);
  if (WIFEXITED(status))
    r.exit_code = WEXITSTATUS(status);
  else if (WIFSIGNALED(status))
    r.exit_code = 128 + WTERMSIG(status);
  r.out = ReadFile(out_path);
  r.err = ReadFile(err_path);
  return r;
}

std::string Trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r\n"), e = s.find_last_not_of(" \t\r\n");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

PlainJson Plain(const Json& v) { return PlainJson::parse(v.dump()); }

std::string Clip(const std::string& s, size_t max = 3000) {
  return s.size() <= max ? s : s.substr(0, max) + "... (" + std::to_string(s.size()) + " chars)";
}

// Every member of `expected` is in `actual` (recursively); arrays match element by element
// and have the same length; scalars are equal (1 == 1.0).
void SubsetDiff(const Json& expected, const Json& actual, const std::string& at,
                std::vector<std::string>& diffs) {
  if (expected.is_object()) {
    if (!actual.is_object()) {
      diffs.push_back(at + ": expected an object, got " + actual.dump());
      return;
    }
    for (const auto& [k, v] : expected.items()) {
      auto it = actual.find(k);
      if (it == actual.end())
        diffs.push_back(at + "/" + k + ": missing");
      else
        SubsetDiff(v, *it, at + "/" + k, diffs);
    }
  } else if (expected.is_array()) {
    if (!actual.is_array() || actual.size() != expected.size()) {
      diffs.push_back(at + ": expected " + expected.dump() + ", got " + actual.dump());
      return;
    }
    for (size_t i = 0; i < expected.size(); ++i) {
      SubsetDiff(expected[i], actual[i], at + "/" + std::to_string(i), diffs);
    }
  } else if (Plain(expected) != Plain(actual)) {
    diffs.push_back(at + ": expected " + expected.dump() + ", got " + actual.dump());
  }
}

bool HasType(const Json& v, const std::string& type) {
  if (type == "string") return v.is_string();
  if (type == "number") return v.is_number();
  if (type == "integer") {
    return v.is_number_integer() ||
           (v.is_number_float() && v.get<double>() == static_cast<double>(v.get<int64_t>()));
  }
  if (type == "boolean") return v.is_boolean();
  if (type == "null") return v.is_null();
  if (type == "array") return v.is_array();
  if (type == "object") return v.is_object();
  return false;
}

// {"pointer": "/a/0", "regex"|"type"|"min"|"max"|"length"|"equals"|"absent": ...}
void CheckPointer(const Json& check, const Json& root, std::vector<std::string>& diffs) {
  const std::string ptr = check.value("pointer", "");
  Json::json_pointer jp(ptr);
  bool present = root.contains(jp);
  if (check.value("absent", false)) {
    if (present) diffs.push_back(ptr + ": expected absent, got " + root.at(jp).dump());
    return;
  }
  if (!present) {
    diffs.push_back(ptr + ": missing in " + root.dump());
    return;
  }
  const Json& v = root.at(jp);
  if (check.contains("equals") && Plain(check["equals"]) != Plain(v)) {
    diffs.push_back(ptr + ": expected " + check["equals"].dump() + ", got " + v.dump());
  }
  if (check.contains("type") && !HasType(v, check["type"].get<std::string>())) {
    diffs.push_back(ptr + ": expected type " + check["type"].dump() + ", got " + v.dump());
  }
  if (check.contains("regex")) {
    std::regex re(check["regex"].get<std::string>());
    if (!v.is_string() || !std::regex_match(v.get<std::string>(), re)) {
      diffs.push_back(ptr + ": " + v.dump() + " does not match " + check["regex"].dump());
    }
  }
  if (check.contains("min") && (!v.is_number() || v.get<double>() < check["min"].get<double>())) {
    diffs.push_back(ptr + ": " + v.dump() + " < min " + check["min"].dump());
  }
  if (check.contains("max") && (!v.is_number() || v.get<double>() > check["max"].get<double>())) {
    diffs.push_back(ptr + ": " + v.dump() + " > max " + check["max"].dump());
  }
  if (check.contains("length") &&
      (!(v.is_array() || v.is_object() || v.is_string()) ||
       (v.is_string() ? v.get<std::string>().size() : v.size()) != check["length"].get<size_t>())) {
    diffs.push_back(ptr + ": expected length " + check["length"].dump() + ", got " + v.dump());
  }
}

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string tmpl = std::string(base && *base ? base : "/tmp") + "/sluice-asl-case-XXXXXX";
    char* made = mkdtemp(tmpl.data());
    path_ = made ? made : "";
  }
  ~TempDir() {
    std::error_code ec;
    if (!keep_ && !path_.empty()) fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  void Keep() { keep_ = true; }

 private:
  fs::path path_;
  bool keep_ = false;
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.id; }

class AslCaseTest : public testing::TestWithParam<Case> {};

// "@CASE_TMP@" in any file the runner writes becomes the case's temp directory, so a
// definition can name files there (a Batch command cannot see $CASE_TMP).
std::string Expand(std::string text, const fs::path& dir) {
  const std::string key = "@CASE_TMP@";
  for (size_t pos = text.find(key); pos != std::string::npos; pos = text.find(key, pos)) {
    text.replace(pos, key.size(), dir.string());
  }
  return text;
}

// Writes the case's files into `dir` and returns the sluice command line.
std::vector<std::string> BuildCommand(const Json& c, const fs::path& case_dir,
                                      const fs::path& dir) {
  const bool validate = c.value("command", "run") == "validate";
  const fs::path def = dir / "definition.asl.json";
  if (c.contains("definition_file")) {
    WriteFile(def, Expand(ReadFile(case_dir / c["definition_file"].get<std::string>()), dir));
  } else if (c.contains("definition_text")) {
    WriteFile(def, Expand(c["definition_text"].get<std::string>(), dir));
  } else {
    WriteFile(def, Expand(c.at("definition").dump(2), dir));
  }
  if (c.contains("files")) {
    for (const auto& [name, content] : c["files"].items()) {
      WriteFile(dir / name, Expand(FileText(content), dir));
    }
  }
  std::vector<std::string> argv = {SLUICE_BINARY, "asl", validate ? "validate" : "run",
                                   def.string()};
  if (validate) return argv;
  auto add_file = [&](const char* key, const char* file, const char* flag) {
    if (!c.contains(key)) return;
    WriteFile(dir / file, Expand(c[key].dump(2), dir));
    argv.insert(argv.end(), {flag, (dir / file).string()});
  };
  add_file("input", "input.json", "--input");
  if (c.contains("input_text")) {
    WriteFile(dir / "input.json", c["input_text"].get<std::string>());
    argv.insert(argv.end(), {"--input", (dir / "input.json").string()});
  }
  add_file("context", "context.json", "--context");
  add_file("bindings", "bindings.json", "--bindings");
  add_file("mock_config", "mock_config.json", "--mock-config");
  if (c.contains("mock_config_file")) {
    WriteFile(dir / "mock_config.json",
              Expand(ReadFile(case_dir / c["mock_config_file"].get<std::string>()), dir));
    argv.insert(argv.end(), {"--mock-config", (dir / "mock_config.json").string()});
  }
  if (c.contains("test_case")) {
    argv.insert(argv.end(), {"--test-case", c["test_case"].get<std::string>()});
  }
  if (c.contains("name")) argv.insert(argv.end(), {"--name", c["name"].get<std::string>()});
  for (const auto& b : c.value("bind", Json::array())) {
    argv.insert(argv.end(), {"--bind", Expand(b.get<std::string>(), dir)});
  }
  for (const auto& a : c.value("args", Json::array())) {
    argv.push_back(Expand(a.get<std::string>(), dir));
  }
  return argv;
}

void CheckRunResult(const Json& expect, const ProcessResult& r, std::vector<std::string>& diffs) {
  if (!expect.contains("status")) return;  // exit code / stderr only (usage errors)
  Json result;
  try {
    result = Json::parse(Trim(r.out));
  } catch (const std::exception& e) {
    diffs.push_back(std::string("stdout is not one JSON value: ") + e.what());
    return;
  }
  if (!result.is_object()) {
    diffs.push_back("stdout is not a JSON object: " + result.dump());
    return;
  }
  if (result.value("status", "") != expect["status"]) {
    diffs.push_back("status: expected " + expect["status"].dump() + ", got " + result.dump());
  }
  if (expect.contains("output")) {
    if (!result.contains("output")) {
      diffs.push_back("output missing in " + result.dump());
    } else if (Plain(expect["output"]) != Plain(result["output"])) {
      const PlainJson patch = PlainJson::diff(Plain(expect["output"]), Plain(result["output"]));
      diffs.push_back("output:\n  expected " + Clip(expect["output"].dump()) + "\n  actual   " +
                      Clip(result["output"].dump()) +
                      "\n  JSON patch from expected to actual: " + Clip(patch.dump()));
    }
  }
  if (expect.contains("output_subset")) {
    SubsetDiff(expect["output_subset"], result.value("output", Json()), "output", diffs);
  }
  for (const auto& check : expect.value("output_checks", Json::array())) {
    CheckPointer(check, result.value("output", Json()), diffs);
  }
  const std::string error = result.value("error", ""), cause = result.value("cause", "");
  if (expect.contains("error") && error != expect["error"]) {
    diffs.push_back("error: expected " + expect["error"].dump() + ", got " + result.dump());
  }
  if (expect.contains("error_one_of")) {
    bool any = false;
    for (const auto& e : expect["error_one_of"]) any = any || e == error;
    if (!any) {
      diffs.push_back("error: expected one of " + expect["error_one_of"].dump() + ", got " +
                      result.dump());
    }
  }
  if (expect.contains("cause") && cause != expect["cause"]) {
    diffs.push_back("cause: expected " + expect["cause"].dump() + ", got " + result.dump());
  }
  if (expect.contains("cause_contains") &&
      cause.find(expect["cause_contains"].get<std::string>()) == std::string::npos) {
    diffs.push_back("cause: expected to contain " + expect["cause_contains"].dump() + ", got " +
                    result.dump());
  }
}

// Each expected problem {location, message} must appear on one stderr line: the line holds
// the location and (ignoring case) the message fragment, or one of them when "message" is
// an array of alternatives (wording is the validator's; the case pins down the problem).
void CheckProblems(const Json& expect, const std::string& err, std::vector<std::string>& diffs) {
  std::vector<std::string> lines;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (const auto& p : expect.value("problems", Json::array())) {
    const std::string loc = p.value("location", "");
    std::vector<std::string> msgs;
    if (p.contains("message") && p["message"].is_array()) {
      for (const auto& m : p["message"]) msgs.push_back(Lower(m.get<std::string>()));
    } else {
      msgs.push_back(Lower(p.value("message", "")));
    }
    bool found = std::any_of(lines.begin(), lines.end(), [&](const std::string& line) {
      if (line.find(loc) == std::string::npos) return false;
      return std::any_of(msgs.begin(), msgs.end(), [&](const std::string& m) {
        return Lower(line).find(m) != std::string::npos;
      });
    });
    if (!found) diffs.push_back("no problem line matching " + p.dump());
  }
}

void CheckFiles(const Json& expect, const fs::path& dir, std::vector<std::string>& diffs) {
  const Json files = expect.value("files", Json::object());
  for (const auto& [name, content] : files.items()) {
    if (!fs::exists(dir / name)) {
      diffs.push_back("file " + name + ": missing");
    } else if (ReadFile(dir / name) != content.get<std::string>()) {
      diffs.push_back("file " + name + ": expected " + content.dump() + ", got " +
                      Json(ReadFile(dir / name)).dump());
    }
  }
  for (const auto& name : expect.value("files_absent", Json::array())) {
    if (fs::exists(dir / name.get<std::string>())) {
      diffs.push_back("file " + name.get<std::string>() + ": expected absent");
    }
  }
}

TEST_P(AslCaseTest, Run) {
  const Case& tc = GetParam();
  Json c;
  try {
    c = Json::parse(ReadFile(tc.file));
  } catch (const std::exception& e) {
    FAIL() << tc.file << ": not valid JSON: " << e.what();
  }
  if (c.contains("skip")) GTEST_SKIP() << c["skip"].get<std::string>();
  TempDir dir;
  ASSERT_FALSE(dir.path().empty()) << "mkdtemp failed";
  const Json expect = c.value("expect", Json::object());
  std::vector<std::string> argv;
  try {
    argv = BuildCommand(c, tc.file.parent_path(), dir.path());
  } catch (const std::exception& e) {
    FAIL() << tc.file << ": bad case: " << e.what();
  }
  const std::map<std::string, std::string> env = {{"CASE_TMP", dir.path().string()},
                                                  {"CASE_DIR", tc.file.parent_path().string()}};
  ProcessResult r =
      RunProcess(argv, dir.path(), env, c.value("timeout_seconds", kDefaultTimeoutSeconds));

  std::vector<std::string> diffs;
  if (r.timed_out) diffs.push_back("killed after " + std::to_string(r.seconds) + " s");
  const bool validate = c.value("command", "run") == "validate";
  int want_exit = 0;
  if (expect.contains("exit_code")) {
    want_exit = expect["exit_code"];
  } else if (validate) {
    want_exit = expect.value("problems", Json::array()).empty() ? 0 : 2;
  } else {
    want_exit = expect.value("status", "SUCCEEDED") == "SUCCEEDED" ? 0 : 1;
  }
  if (r.exit_code != want_exit) {
    diffs.push_back("exit code: expected " + std::to_string(want_exit) + ", got " +
                    std::to_string(r.exit_code));
  }
  if (validate)
    CheckProblems(expect, r.err, diffs);
  else
    CheckRunResult(expect, r, diffs);
  for (const auto& s : expect.value("stderr_contains", Json::array())) {
    if (Lower(r.err).find(Lower(s.get<std::string>())) == std::string::npos) {
      diffs.push_back("stderr does not contain " + s.dump());
    }
  }
  CheckFiles(expect, dir.path(), diffs);
  if (expect.contains("min_seconds") && r.seconds < expect["min_seconds"].get<double>()) {
    diffs.push_back("took " + std::to_string(r.seconds) + " s, expected at least " +
                    expect["min_seconds"].dump());
  }
  if (expect.contains("max_seconds") && r.seconds > expect["max_seconds"].get<double>()) {
    diffs.push_back("took " + std::to_string(r.seconds) + " s, expected at most " +
                    expect["max_seconds"].dump());
  }

  if (!diffs.empty()) {
    dir.Keep();
    std::string cmd;
    for (const std::string& a : argv) cmd += a + " ";
    std::string msg;
    for (const std::string& d : diffs) msg += "  - " + d + "\n";
    std::string err = r.err.size() > 4000 ? "..." + r.err.substr(r.err.size() - 4000) : r.err;
    ADD_FAILURE() << "case " << tc.id << " (" << tc.file.string() << ")\n"
                  << c.value("description", "") << "\n"
                  << msg << "command: " << cmd << "\n(kept in " << dir.path().string()
                  << ")\nstdout: " << Clip(r.out) << "\nstderr: " << err;
  }
}

INSTANTIATE_TEST_SUITE_P(Cases, AslCaseTest, testing::ValuesIn(DiscoverCases()),
                         [](const testing::TestParamInfo<Case>& info) {
                           return info.param.test_name;
                         });

}  // namespace
}  // namespace sluice::asl_cases
