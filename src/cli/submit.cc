// `sluice submit`: POST /ga4gh/wes/v1/runs as multipart/form-data, print the run id.
#include <CLI/CLI.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/args.h"
#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/watch.h"

namespace sluice::cli {
namespace {

class SubmitCommand final : public Command {
 public:
  explicit SubmitCommand(CLI::App* app) : Command(app) {
    AddClientOptions(*app, client_);
    app->add_option("WORKFLOW", workflow_,
                    "Workflow file (attached, and used as workflow_url) or URL");
    app->add_option("--type", type_, "workflow_type (ASL, MOCK, CWL, SNAKEMAKE, ...)")->required();
    app->add_option("--type-version", type_version_, "workflow_type_version")->required();
    app->add_option("--url", url_, "workflow_url (default: WORKFLOW)");
    auto* params = app->add_option("--params", params_, "workflow_params as a JSON object");
    app->add_option("--params-file", params_file_, "File holding workflow_params (JSON)")
        ->excludes(params);
    app->add_option("--tag", tags_, "Tag KEY=VALUE (repeatable)")->allow_extra_args(false);
    app->add_option("--attach", attachments_, "File to attach (repeatable)")
        ->allow_extra_args(false);
    app->add_option("--engine-param", engine_params_,
                    "workflow_engine_parameters KEY=VALUE (repeatable)")
        ->allow_extra_args(false);
    app->add_option("--idempotency-key", idempotency_key_,
                    "Submitting again with the same key returns the same run");
    app->add_flag("--wait", wait_, "Watch the run until it ends (exit 1 unless COMPLETE)");
  }

  int Run() override {
    Result<SubmitForm> form = BuildForm();
    if (!form.ok()) return ReportError(form.status());
    HttpClient http(client_.server);
    WesClient wes(http);
    Result<Json> response = wes.Submit(*form);
    if (!response.ok()) return ReportError(response.status());
    std::string run_id =
        response->is_object() && response->contains("run_id") && (*response)["run_id"].is_string()
            ? (*response)["run_id"].get<std::string>()
            : "";
    if (client_.json) {
      PrintJson(*response);
    } else {
      std::cout << run_id << std::endl;
    }
    if (!wait_) return kExitOk;
    if (run_id.empty()) return ReportError(Internal("the response has no run_id"));
    // Progress goes to stderr so stdout stays just the id for `RUN=$(sluice submit --wait)`.
    auto source = MakePollingSource(wes, run_id, std::chrono::milliseconds(500));
    return WatchRun(*source, stderr);
  }

 private:
  Result<SubmitForm> BuildForm() const {
    SubmitForm form;
    form.idempotency_key = idempotency_key_;
    auto add = [&form](std::string name, std::string value) {
      form.parts.push_back(FormPart{std::move(name), std::move(value), "", ""});
    };
    add("workflow_type", type_);
    add("workflow_type_version", type_version_);

    std::vector<std::string> files = attachments_;
    std::string workflow_url = url_;
    if (!workflow_.empty()) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(workflow_, ec)) {
        ASSIGN_OR_RETURN(std::string name, AttachmentName(workflow_));
        files.insert(files.begin(), workflow_);
        if (workflow_url.empty()) workflow_url = name;
      } else if (workflow_.find("://") != std::string::npos) {
        if (!workflow_url.empty()) {
          return InvalidArgument("give the workflow URL either as WORKFLOW or as --url");
        }
        workflow_url = workflow_;
      } else {
        return InvalidArgument("WORKFLOW: " + workflow_ + " is neither a file nor a URL");
      }
    }
    if (!workflow_url.empty()) add("workflow_url", workflow_url);

    std::string params_text = params_;
    std::string params_what = "--params";
    if (!params_file_.empty()) {
      ASSIGN_OR_RETURN(params_text, ReadTextFile(params_file_, "--params-file"));
      params_what = "--params-file " + params_file_;
    }
    if (!params_text.empty()) {
      ASSIGN_OR_RETURN(Json params, ParseJson(params_text, params_what));
      if (!params.is_object()) return InvalidArgument(params_what + ": must be a JSON object");
      add("workflow_params", params.dump());
    }
    if (!tags_.empty()) {
      ASSIGN_OR_RETURN(Json tags, KeyValuesToJson(tags_, "--tag"));
      add("tags", tags.dump());
    }
    if (!engine_params_.empty()) {
      ASSIGN_OR_RETURN(Json engine, KeyValuesToJson(engine_params_, "--engine-param"));
      add("workflow_engine_parameters", engine.dump());
    }

    std::set<std::string> names;
    for (const std::string& path : files) {
      ASSIGN_OR_RETURN(std::string name, AttachmentName(path));
      std::error_code ec;
      if (!std::filesystem::is_regular_file(path, ec)) {
        return InvalidArgument("--attach: " + path + " is not a readable file");
      }
      // Opened now so an unreadable file fails here with a clear message, not mid-upload.
      if (!std::ifstream(path)) {
        return InvalidArgument("--attach: cannot read " + path + ": " + std::strerror(errno));
      }
      if (!names.insert(name).second) {
        return InvalidArgument("--attach: two attachments would be named \"" + name + "\"");
      }
      form.parts.push_back(FormPart{"workflow_attachment", "", path, name});
    }
    return form;
  }

  ClientOptions client_;
  std::string workflow_;
  std::string type_;
  std::string type_version_;
  std::string url_;
  std::string params_;
  std::string params_file_;
  std::vector<std::string> tags_;
  std::vector<std::string> attachments_;
  std::vector<std::string> engine_params_;
  std::string idempotency_key_;
  bool wait_ = false;
};

}  // namespace

std::unique_ptr<Command> AddSubmitCommand(CLI::App& parent) {
  return std::make_unique<SubmitCommand>(parent.add_subcommand("submit", "Submit a run"));
}

}  // namespace sluice::cli
