#include "api/submit_request.h"

#include <array>
#include <nlohmann/json.hpp>
#include <set>

#include "api/multipart.h"
#include "common/json.h"

namespace sluice::api {
namespace {

constexpr std::array<std::string_view, 8> kTextFields = {
    "workflow_params", "workflow_type",           "workflow_type_version",      "tags",
    "workflow_engine", "workflow_engine_version", "workflow_engine_parameters", "workflow_url"};
constexpr std::string_view kAttachmentField = "workflow_attachment";

bool IsTextField(std::string_view name) {
  for (std::string_view f : kTextFields) {
    if (f == name) return true;
  }
  return false;
}

std::string Shown(std::string_view s) {
  std::string out(s.substr(0, 60));
  if (s.size() > 60) out += "...";
  return out;
}

// workflow_params must be a JSON object; it is stored as compact JSON text.
Status SetParams(const Json& v, store::RunRequest& out) {
  if (!v.is_object()) return InvalidArgument("workflow_params: must be a JSON object");
  out.workflow_params = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  return Status::Ok();
}

// tags and workflow_engine_parameters: an object whose values are strings.
Status SetStringMap(const Json& v, std::string_view field, store::StringMap& out) {
  if (!v.is_object()) {
    return InvalidArgument(std::string(field) + ": must be a JSON object of strings");
  }
  out.clear();
  for (const auto& [k, val] : v.items()) {
    if (!val.is_string()) {
      return InvalidArgument(std::string(field) + "." + k + ": must be a string");
    }
    out[k] = val.get<std::string>();
  }
  return Status::Ok();
}

Status SetJsonTextField(std::string_view field, std::string_view text, store::RunRequest& out) {
  // An empty part is how some form clients say "not given".
  if (text.find_first_not_of(" \t\r\n") == std::string_view::npos) return Status::Ok();
  ASSIGN_OR_RETURN(Json v, ParseJson(text, field));
  if (field == "workflow_params") return SetParams(v, out);
  if (field == "tags") return SetStringMap(v, field, out.tags);
  return SetStringMap(v, field, out.workflow_engine_parameters);
}

void SetStringField(std::string_view field, std::string value, store::RunRequest& out) {
  if (field == "workflow_type") {
    out.workflow_type = std::move(value);
  } else if (field == "workflow_type_version") {
    out.workflow_type_version = std::move(value);
  } else if (field == "workflow_engine") {
    out.workflow_engine = std::move(value);
  } else if (field == "workflow_engine_version") {
    out.workflow_engine_version = std::move(value);
  } else if (field == "workflow_url") {
    out.workflow_url = std::move(value);
  }
}

Status CheckRequired(const store::RunRequest& r) {
  if (r.workflow_type.empty()) return InvalidArgument("workflow_type: required");
  if (r.workflow_type_version.empty()) return InvalidArgument("workflow_type_version: required");
  if (r.workflow_url.empty()) return InvalidArgument("workflow_url: required");
  if (!r.workflow_engine_version.empty() && r.workflow_engine.empty()) {
    return InvalidArgument("workflow_engine: required when workflow_engine_version is given");
  }
  return Status::Ok();
}

}  // namespace

Result<service::SubmitRequest> ParseSubmitMultipart(std::string_view content_type,
                                                    std::string_view body) {
  ASSIGN_OR_RETURN(std::string boundary, BoundaryFromContentType(content_type));
  ASSIGN_OR_RETURN(std::vector<MultipartPart> parts, ParseMultipart(body, boundary));
  service::SubmitRequest req;
  std::set<std::string_view> seen;
  for (const MultipartPart& part : parts) {
    if (part.name == kAttachmentField) {
      if (!part.filename || part.filename->empty()) {
        return InvalidArgument(
            "workflow_attachment: a part has no filename in its "
            "Content-Disposition");
      }
      req.attachments.push_back({*part.filename, std::string(part.data)});
      continue;
    }
    if (!IsTextField(part.name)) {
      return InvalidArgument("unknown form field '" + Shown(part.name) + "'");
    }
    if (!seen.insert(part.name).second) {
      return InvalidArgument(part.name + ": given more than once");
    }
    if (part.name == "workflow_params" || part.name == "tags" ||
        part.name == "workflow_engine_parameters") {
      RETURN_IF_ERROR(SetJsonTextField(part.name, part.data, req.request));
    } else {
      SetStringField(part.name, std::string(part.data), req.request);
    }
  }
  RETURN_IF_ERROR(CheckRequired(req.request));
  return req;
}

Result<service::SubmitRequest> ParseSubmitJson(std::string_view body) {
  ASSIGN_OR_RETURN(Json j, ParseJson(body, "request body"));
  if (!j.is_object()) return InvalidArgument("request body: must be a JSON object");
  service::SubmitRequest req;
  for (const auto& [key, v] : j.items()) {
    if (key == kAttachmentField) {
      return InvalidArgument(
          "workflow_attachment: not supported in application/json; send "
          "multipart/form-data to upload files");
    }
    if (!IsTextField(key)) return InvalidArgument("unknown field '" + Shown(key) + "'");
    if (v.is_null()) continue;
    if (key == "workflow_params" || key == "tags" || key == "workflow_engine_parameters") {
      if (v.is_string()) {
        // Also accept the JSON text form, as in multipart.
        RETURN_IF_ERROR(SetJsonTextField(key, v.get_ref<const std::string&>(), req.request));
      } else if (key == "workflow_params") {
        RETURN_IF_ERROR(SetParams(v, req.request));
      } else {
        RETURN_IF_ERROR(SetStringMap(
            v, key, key == "tags" ? req.request.tags : req.request.workflow_engine_parameters));
      }
      continue;
    }
    if (!v.is_string()) return InvalidArgument(key + ": must be a string");
    SetStringField(key, v.get<std::string>(), req.request);
  }
  RETURN_IF_ERROR(CheckRequired(req.request));
  return req;
}

Result<service::SubmitRequest> ParseSubmitRequest(std::string_view content_type,
                                                  std::string_view body) {
  Result<HeaderValue> hv = ParseHeaderValue(content_type, "Content-Type");
  if (!hv.ok() || content_type.empty()) {
    return InvalidArgument("Content-Type: must be multipart/form-data or application/json, got '" +
                           Shown(content_type) + "'");
  }
  if (hv->type == "multipart/form-data") return ParseSubmitMultipart(content_type, body);
  if (hv->type == "application/json") return ParseSubmitJson(body);
  return InvalidArgument("Content-Type: must be multipart/form-data or application/json, got '" +
                         Shown(hv->type) + "'");
}

}  // namespace sluice::api
