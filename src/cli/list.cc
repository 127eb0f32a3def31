// `sluice list`: a table of runs (GET /runs), one page or, with --all, every page.
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "cli/exit_codes.h"
#include "cli/output.h"
#include "cli/wes_client.h"

namespace sluice::cli {
namespace {

constexpr int kMaxPages = 100'000;

class ListCommand final : public Command {
 public:
  explicit ListCommand(CLI::App* app) : Command(app) {
    AddClientOptions(*app, client_);
    app->add_option("--page-size", page_size_, "Runs per page (server default if unset)")
        ->check(CLI::PositiveNumber);
    app->add_option("--page-token", page_token_, "Start at this page (from next_page_token)");
    app->add_flag("--all", all_, "Follow next_page_token to the last page");
  }

  int Run() override {
    HttpClient http(client_.server);
    WesClient wes(http);
    Json runs = Json::array();
    std::string token = page_token_;
    std::string next;
    for (int page = 0; page < kMaxPages; ++page) {
      Result<Json> response = wes.ListRuns(page_size_, token);
      if (!response.ok()) return ReportError(response.status());
      auto page_runs = response->find("runs");
      if (page_runs != response->end() && page_runs->is_array()) {
        for (Json& run : *page_runs) runs.push_back(std::move(run));
      }
      next = StringField(*response, "next_page_token");
      if (!all_ || next.empty()) break;
      if (next == token) return ReportError(Internal("server repeated next_page_token"));
      token = next;
    }
    if (client_.json) {
      PrintJson(Json{{"runs", runs}, {"next_page_token", next}});
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const Json& run : runs) {
      auto tags = run.find("tags");
      rows.push_back({StringField(run, "run_id"), StringField(run, "state"),
                      StringField(run, "start_time", "-"), StringField(run, "end_time", "-"),
                      tags != run.end() ? FormatTags(*tags) : ""});
    }
    std::cout << FormatTable({"RUN ID", "STATE", "START", "END", "TAGS"}, rows);
    // Say how to go on, on stderr so the table stays clean for pipes.
    if (!next.empty()) std::cerr << "more: --page-token " << next << std::endl;
    return kExitOk;
  }

 private:
  ClientOptions client_;
  int64_t page_size_ = 0;
  std::string page_token_;
  bool all_ = false;
};

}  // namespace

std::unique_ptr<Command> AddListCommand(CLI::App& parent) {
  return std::make_unique<ListCommand>(parent.add_subcommand("list", "List runs"));
}

}  // namespace sluice::cli
