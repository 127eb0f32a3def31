// Helpers that turn command-line arguments into request pieces: KEY=VALUE pairs, attachment
// names, URLs and files read for upload. They do no network I/O.
// Thread-safety: pure functions (ReadTextFile reads the file system).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/json.h"
#include "common/status.h"

namespace sluice::cli {

// "k=v" -> {"k", "v"}. The value may be empty or contain '='; the key may not be empty.
// kInvalidArgument naming `flag`: `--tag: expected KEY=VALUE, got "x"`.
Result<std::pair<std::string, std::string>> ParseKeyValue(std::string_view text,
                                                          std::string_view flag);

// Several "k=v" into a JSON object of strings. A repeated key is kInvalidArgument.
Result<Json> KeyValuesToJson(const std::vector<std::string>& items, std::string_view flag);

// The workflow_attachment filename for a local `path`: the path as given when it is relative
// and has no ".." component (normalised: "./a//b" -> "a/b"), else its file name alone
// ("/data/x.cwl" -> "x.cwl", "../x.cwl" -> "x.cwl"). kInvalidArgument if no file name is left
// ("/", "..", "dir/").
Result<std::string> AttachmentName(std::string_view path);

// base "http://h:1/" + path "/ga4gh/wes/v1/runs" -> "http://h:1/ga4gh/wes/v1/runs".
std::string JoinUrl(std::string_view base, std::string_view path);

// Percent-encodes everything but RFC 3986 unreserved characters, for one path segment or
// query value.
std::string EscapeUrlComponent(std::string_view text);

// `sluice --server URL list` as well as `sluice list --server URL`: moves the client
// options (--server URL, --server=URL, --json) given before the subcommand (the first other
// argument) to just after it, where CLI11 looks for them. args[0] is the program.
std::vector<std::string> MoveClientOptionsAfterSubcommand(std::vector<std::string> args);

// The whole file. kInvalidArgument naming `what` and the path if it cannot be read.
Result<std::string> ReadTextFile(const std::string& path, std::string_view what);

}  // namespace sluice::cli
