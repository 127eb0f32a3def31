// `sluice list`: a table of runs, one page or, with --all, every page. Without filters it is
// the WES listing (GET /ga4gh/wes/v1/runs); with --state/--user/--tag/--type/--name/--sort/
// --total it uses the run index (GET /api/v1/runs).
#include <CLI/CLI.hpp>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/args.h"
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
    app->add_option("--state", states_, "Only runs in this state (repeatable, or a comma list)");
    app->add_option("--user", user_, "Only runs submitted by this user");
    app->add_option("--tag", tags_, "Only runs with this tag, KEY:VALUE (repeatable)");
    app->add_option("--type", type_, "Only runs of this workflow type");
    app->add_option("--name", name_, "Only runs whose name starts with this");
    app->add_option("--sort", sort_,
                    "Order: submitted_at, updated_at, or either with :asc (default "
                    "submitted_at, newest first)");
    app->add_flag("--total", total_, "Also print how many runs match");
  }

  int Run() override {
    HttpClient http(client_.server);
    WesClient wes(http);
    bool indexed = !states_.empty() || !user_.empty() || !tags_.empty() || !type_.empty() ||
                   !name_.empty() || !sort_.empty() || total_;
    std::string filters = indexed ? IndexQuery() : "";
    Json runs = Json::array();
    std::string token = page_token_;
    std::string next;
    Json total;
    for (int page = 0; page < kMaxPages; ++page) {
      Result<Json> response = indexed ? wes.ListRunsIndexed(PageQuery(filters, token))
                                      : wes.ListRuns(page_size_, token);
      if (!response.ok()) return ReportError(response.status());
      auto page_runs = response->find("runs");
      if (page_runs != response->end() && page_runs->is_array()) {
        for (Json& run : *page_runs) runs.push_back(std::move(run));
      }
      if (page == 0 && response->contains("total")) {
        total = Json{{"total", (*response)["total"]},
                     {"total_is_estimate", response->value("total_is_estimate", false)}};
      }
      next = StringField(*response, "next_page_token");
      if (!all_ || next.empty()) break;
      if (next == token) return ReportError(Internal("server repeated next_page_token"));
      token = next;
    }
    if (client_.json) {
      Json out{{"runs", runs}, {"next_page_token", next}};
      if (!total.is_null()) out.update(total);
      PrintJson(out);
      return kExitOk;
    }
    std::vector<std::vector<std::string>> rows;
    for (const Json& run : runs) {
      auto tags = run.find("tags");
      std::string tag_text = tags != run.end() ? FormatTags(*tags) : "";
      if (indexed) {
        rows.push_back({StringField(run, "run_id"), StringField(run, "state"),
                        StringField(run, "user", "-"), StringField(run, "name", "-"),
                        StringField(run, "submitted_at", "-"), StringField(run, "end_time", "-"),
                        tag_text});
      } else {
        rows.push_back({StringField(run, "run_id"), StringField(run, "state"),
                        StringField(run, "start_time", "-"), StringField(run, "end_time", "-"),
                        tag_text});
      }
    }
    if (indexed) {
      std::cout << FormatTable({"RUN ID", "STATE", "USER", "NAME", "SUBMITTED", "END", "TAGS"},
                               rows);
    } else {
      std::cout << FormatTable({"RUN ID", "STATE", "START", "END", "TAGS"}, rows);
    }
    if (!total.is_null()) {
      std::cerr << "total: " << total["total"].dump()
                << (total["total_is_estimate"].get<bool>() ? " (estimate)" : "") << std::endl;
    }
    // Say how to go on, on stderr so the table stays clean for pipes.
    if (!next.empty()) std::cerr << "more: --page-token " << next << std::endl;
    return kExitOk;
  }

 private:
  std::string IndexQuery() const {
    std::string q;
    auto add = [&q](std::string_view name, std::string_view value) {
      if (!q.empty()) q += '&';
      q += name;
      q += '=';
      q += EscapeUrlComponent(value);
    };
    for (const std::string& s : states_) add("state", s);
    if (!user_.empty()) add("user", user_);
    for (const std::string& t : tags_) add("tag", t);
    if (!type_.empty()) add("workflow_type", type_);
    if (!name_.empty()) add("name", name_);
    if (!sort_.empty()) {
      size_t colon = sort_.find(':');
      add("sort", sort_.substr(0, colon));
      if (colon != std::string::npos) add("order", sort_.substr(colon + 1));
    }
    if (total_) add("total", "true");
    if (page_size_ > 0) add("page_size", std::to_string(page_size_));
    return q;
  }

  static std::string PageQuery(const std::string& filters, const std::string& token) {
    if (token.empty()) return filters;
    return filters + (filters.empty() ? "" : "&") + "page_token=" + EscapeUrlComponent(token);
  }

  ClientOptions client_;
  int64_t page_size_ = 0;
  std::string page_token_;
  bool all_ = false;
  std::vector<std::string> states_;
  std::string user_;
  std::vector<std::string> tags_;
  std::string type_;
  std::string name_;
  std::string sort_;
  bool total_ = false;
};

}  // namespace

std::unique_ptr<Command> AddListCommand(CLI::App& parent) {
  return std::make_unique<ListCommand>(parent.add_subcommand("list", "List runs"));
}

}  // namespace sluice::cli
