// `sluice asl validate DEFINITION` and `sluice asl run DEFINITION [options]`.
#include "cli/asl_cmd.h"

#include <CLI/CLI.hpp>
#include <filesystem>
#include <iostream>
#include <iterator>
#include <random>
#include <set>

#include "asl/binding.h"
#include "asl/definition.h"
#include "asl/interpreter.h"
#include "asl/mock_config.h"
#include "cli/args.h"
#include "cli/asl_runner.h"
#include "cli/exit_codes.h"
#include "common/ids.h"

namespace sluice::cli {
namespace {

using asl::Value;

constexpr const char* kRunFooter = R"(
Each Task is answered by, in this order:
  1. --mock-config/--test-case, if the test case names the state. The file is AWS Step
     Functions Local's MockConfigFile.json; the state machine in it is the one named like
     $$.StateMachine.Name (the definition's file name without its extension, or
     StateMachine.Name from --context), or the file's only state machine. Invocations count
     from 0 per state, retries and Map items included, in the order they start.
  2. The command bound to the task's Resource (--bindings FILE holds {"<resource>":
     "<command>"}; --bind RESOURCE=COMMAND adds or replaces one). It runs with /bin/sh -c,
     gets the effective input as JSON on stdin and SLUICE_RESOURCE, SLUICE_STATE_NAME,
     SLUICE_EXECUTION_NAME and SLUICE_ATTEMPT (1, 2, ... with retries) in its environment,
     and SLUICE_HEARTBEAT_FILE: touching it sends a heartbeat (HeartbeatSeconds). Exit 0: stdout is the result (JSON; empty means null). Other exits fail the task with
     stdout's {"Error": ..., "Cause": ...} if it prints one, else States.TaskFailed with the
     tail of stderr as cause. Its stderr is echoed on ours, prefixed by the state name.
  3. arn:aws:states:::batch:submitJob(.sync) without a binding: ContainerOverrides.Command
     runs here as a process with Environment added; .sync returns the Batch job description
     (a failed job raises States.TaskFailed with that description as cause).
  4. Otherwise the task fails with Sluice.ResourceNotBound.

Output: one JSON line on stdout, {"status": "SUCCEEDED", "output": ...} or
{"status": "FAILED"|"TIMED_OUT"|"ABORTED", "error": ..., "cause": ...}.
Exit status: 0 SUCCEEDED, 1 FAILED/TIMED_OUT/ABORTED, 2 invalid definition or usage.
Ctrl-C stops the execution (ABORTED) and terminates its tasks.)";

void PrintProblems(const std::vector<asl::Problem>& problems) {
  for (const asl::Problem& p : problems) {
    std::cerr << (p.warning ? "warning: " : "error: ") << p.ToString() << "\n";
  }
  std::cerr.flush();
}

// Reads and validates a definition; on failure prints every problem and returns null.
std::shared_ptr<const asl::Definition> LoadDefinition(const std::string& path) {
  Result<std::string> text = ReadTextFile(path, "definition");
  if (!text.ok()) {
    std::cerr << "error: " << text.status().message() << std::endl;
    return nullptr;
  }
  std::vector<asl::Problem> problems;
  auto definition = asl::ParseDefinition(*text, &problems);
  if (!definition.ok()) {
    if (problems.empty()) {
      std::cerr << "error: " << definition.status().message() << std::endl;
    } else {
      PrintProblems(problems);
    }
    return nullptr;
  }
  PrintProblems((*definition)->warnings);
  return std::move(definition).value();
}

Result<Value> ParseValue(std::string_view text, const std::string& what) {
  try {
    return Value::parse(text);
  } catch (const Value::exception& e) {
    return InvalidArgument(what + ": invalid JSON: " + e.what());
  }
}

// The whole of `path` ("-": stdin) as JSON.
Result<Value> ReadJsonFile(const std::string& path, const std::string& what) {
  if (path == "-") {
    std::string text(std::istreambuf_iterator<char>(std::cin), {});
    return ParseValue(text, what);
  }
  ASSIGN_OR_RETURN(std::string text, ReadTextFile(path, what));
  return ParseValue(text, what + " " + path);
}

// AWS's rule for execution names: 1-80 characters, no white space, brackets, wildcards,
// control characters or any of " # % \ ^ | ~ ` $ & , ; : /.
bool ValidExecutionName(std::string_view name) {
  if (name.empty() || name.size() > 80) return false;
  constexpr std::string_view kForbidden = " \t\n\r<>{}[]?*\"#%\\^|~`$&,;:/";
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7F || kForbidden.find(static_cast<char>(c)) != std::string::npos) {
      return false;
    }
  }
  return true;
}

std::string StringAt(const Value& context, const char* object, const char* field,
                     std::string fallback) {
  auto o = context.find(object);
  if (o == context.end() || !o->is_object()) return fallback;
  auto f = o->find(field);
  if (f == o->end() || !f->is_string()) return fallback;
  return f->get<std::string>();
}

void CollectTaskStates(const asl::StateMachine& machine, std::set<std::string>* tasks,
                       std::set<std::string>* all) {
  for (const auto& state : machine.states) {
    all->insert(state->name);
    if (state->type == asl::StateType::kTask) tasks->insert(state->name);
    for (const auto& branch : state->branches) CollectTaskStates(*branch, tasks, all);
    if (state->processor) CollectTaskStates(*state->processor, tasks, all);
  }
}

struct RunFlags {
  std::string definition;
  std::string input;
  std::string name;
  std::string context;
  std::vector<std::string> binds;
  std::string bindings;
  std::string mock_config;
  std::string test_case;
  std::optional<uint64_t> seed;
  bool quiet = false;
};

class AslCommand final : public Command {
 public:
  explicit AslCommand(CLI::App* app) : Command(app) {
    app->require_subcommand(1);
    validate_ = app->add_subcommand(
        "validate",
        "Check a state machine definition: exit 0 if valid (warnings on stderr), "
        "2 with every problem listed on stderr");
    validate_->add_option("DEFINITION", validate_file_, "State machine definition (JSON)")
        ->required()
        ->type_name("FILE");

    run_ = app->add_subcommand("run",
                               "Run a state machine in this process and print its "
                               "result as one JSON line");
    run_->add_option("DEFINITION", run_flags_.definition, "State machine definition (JSON)")
        ->required()
        ->type_name("FILE");
    run_->add_option("--input", run_flags_.input,
                     "Execution input, a JSON file ('-': stdin; default {})")
        ->type_name("FILE");
    run_->add_option("--name", run_flags_.name,
                     "Execution name ($$.Execution.Name; default a generated id)")
        ->type_name("NAME");
    run_->add_option("--context", run_flags_.context,
                     "JSON object merged over the context object ($$), e.g. Execution.Name, "
                     "StateMachine.Name; wins over --name")
        ->type_name("FILE");
    run_->add_option("--bind", run_flags_.binds,
                     "Bind a Task resource to a shell command (repeatable)")
        ->allow_extra_args(false)
        ->type_name("RESOURCE=COMMAND");
    run_->add_option("--bindings", run_flags_.bindings,
                     "JSON file {\"<resource>\": \"<shell command>\", ...}")
        ->type_name("FILE");
    run_->add_option("--mock-config", run_flags_.mock_config,
                     "AWS Step Functions Local mock config file (needs --test-case)")
        ->type_name("FILE");
    run_->add_option("--test-case", run_flags_.test_case,
                     "Test case of the mock config to use (needs --mock-config)")
        ->type_name("NAME");
    run_->add_option("--seed", run_flags_.seed,
                     "Seed for States.MathRandom, States.UUID and retry jitter (default random)")
        ->type_name("N");
    run_->add_flag("--quiet", run_flags_.quiet, "Do not echo the tasks' output on stderr");
    run_->footer(kRunFooter);
  }

  int Run() override {
    if (validate_->parsed()) return RunValidate();
    return RunRun();
  }

 private:
  int RunValidate() { return LoadDefinition(validate_file_) == nullptr ? kExitUsage : kExitOk; }

  static int Usage(const std::string& message) {
    std::cerr << "error: " << message << std::endl;
    return kExitUsage;
  }

  int RunRun() {
    const RunFlags& f = run_flags_;
    if (f.mock_config.empty() != f.test_case.empty()) {
      return Usage("--mock-config and --test-case go together");
    }
    if (!f.name.empty() && !ValidExecutionName(f.name)) {
      return Usage("--name: \"" + f.name +
                   "\" is not a valid execution name (1-80 characters, no white space, "
                   "brackets, wildcards or any of \" # % \\ ^ | ~ ` $ & , ; : /)");
    }
    std::shared_ptr<const asl::Definition> definition = LoadDefinition(f.definition);
    if (definition == nullptr) return kExitUsage;

    Value input = Value::object();
    if (!f.input.empty()) {
      Result<Value> parsed = ReadJsonFile(f.input, "--input");
      if (!parsed.ok()) return Usage(parsed.status().message());
      input = std::move(parsed).value();
    }
    Value context = Value::object();
    if (!f.context.empty()) {
      Result<Value> parsed = ReadJsonFile(f.context, "--context");
      if (!parsed.ok()) return Usage(parsed.status().message());
      if (!parsed->is_object()) return Usage("--context: must be a JSON object");
      context = std::move(parsed).value();
    }

    asl::ExecutionOptions options;
    options.record_history = false;
    options.context_overrides = context;
    std::string machine = std::filesystem::path(f.definition).stem().string();
    options.state_machine_name = StringAt(context, "StateMachine", "Name", machine);
    options.execution_name = StringAt(context, "Execution", "Name",
                                      f.name.empty() ? RandomIdGenerator().NewId() : f.name);
    options.state_machine_id =
        StringAt(context, "StateMachine", "Id",
                 "arn:aws:states:local:000000000000:stateMachine:" + options.state_machine_name);
    options.execution_id =
        StringAt(context, "Execution", "Id",
                 "arn:aws:states:local:000000000000:execution:" + options.state_machine_name + ":" +
                     options.execution_name);
    if (f.seed) {
      options.seed = *f.seed;
    } else {
      std::random_device rd;
      options.seed = (static_cast<uint64_t>(rd()) << 32) | rd();
    }

    AslRunnerOptions runner_options;
    runner_options.execution_name = options.execution_name;
    runner_options.execution_id = options.execution_id;
    runner_options.quiet = f.quiet;
    if (int rc = LoadBindings(&runner_options.bindings); rc != kExitOk) return rc;
    if (!f.mock_config.empty()) {
      if (int rc = LoadMocks(*definition, options.state_machine_name, &runner_options.mocks);
          rc != kExitOk) {
        return rc;
      }
    }

    asl::Execution execution(definition, options);
    SystemClock clock;
    AslRunner runner(clock, std::move(runner_options));
    Result<asl::ExecutionResult> result = runner.Run(execution, std::move(input));
    if (!result.ok()) return ReportError(result.status());

    Value line = Value::object();
    line["status"] = std::string(asl::ExecutionStatusName(result->status));
    if (result->status == asl::ExecutionResult::Status::kSucceeded) {
      line["output"] = std::move(result->output);
    } else {
      line["error"] = result->error;
      line["cause"] = result->cause;
    }
    std::cout << line.dump(-1, ' ', false, Value::error_handler_t::replace) << std::endl;
    return result->status == asl::ExecutionResult::Status::kSucceeded ? kExitOk
                                                                      : kExitRunNotComplete;
  }

  int LoadBindings(asl::Bindings* bindings) const {
    if (!run_flags_.bindings.empty()) {
      Result<std::string> text = ReadTextFile(run_flags_.bindings, "--bindings");
      if (!text.ok()) return Usage(text.status().message());
      Result<asl::Bindings> parsed = asl::ParseBindings(*text);
      if (!parsed.ok()) return Usage(run_flags_.bindings + ": " + parsed.status().message());
      *bindings = std::move(parsed).value();
    }
    std::set<std::string> seen;
    for (const std::string& bind : run_flags_.binds) {
      auto kv = asl::ParseBindFlag(bind);
      if (!kv.ok()) return Usage(kv.status().message());
      if (!seen.insert(kv->first).second) {
        return Usage("--bind: resource \"" + kv->first + "\" bound twice");
      }
      (*bindings)[kv->first] = kv->second;
    }
    return kExitOk;
  }

  int LoadMocks(const asl::Definition& definition, const std::string& machine_name,
                std::optional<asl::MockTestCase>* mocks) const {
    Result<std::string> text = ReadTextFile(run_flags_.mock_config, "--mock-config");
    if (!text.ok()) return Usage(text.status().message());
    Result<asl::MockConfig> config = asl::MockConfig::Parse(*text);
    if (!config.ok()) return Usage(run_flags_.mock_config + ": " + config.status().message());
    Result<asl::MockTestCase> test_case = config->FindTestCase(machine_name, run_flags_.test_case);
    if (!test_case.ok()) {
      return Usage(run_flags_.mock_config + ": " + test_case.status().message());
    }
    std::set<std::string> tasks, all;
    CollectTaskStates(definition.machine, &tasks, &all);
    for (const std::string& state : test_case->MockedStates()) {
      if (tasks.count(state) != 0) continue;
      std::cerr << "warning: " << run_flags_.mock_config << ": test case \"" << run_flags_.test_case
                << "\" mocks \"" << state << "\", "
                << (all.count(state) != 0 ? "which is not a Task state"
                                          : "which is not a state of the definition")
                << std::endl;
    }
    *mocks = std::move(test_case).value();
    return kExitOk;
  }

  CLI::App* validate_ = nullptr;
  CLI::App* run_ = nullptr;
  std::string validate_file_;
  RunFlags run_flags_;
};

}  // namespace

std::unique_ptr<Command> AddAslCommand(CLI::App& parent) {
  return std::make_unique<AslCommand>(parent.add_subcommand(
      "asl", "Validate and run Amazon States Language state machines in this process"));
}

}  // namespace sluice::cli
