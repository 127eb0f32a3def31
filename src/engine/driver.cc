#include "engine/driver.h"

#include <algorithm>

namespace sluice::engine {

void DriverRegistry::Register(std::string workflow_type, std::unique_ptr<WorkflowDriver> driver) {
  drivers_[std::move(workflow_type)] = std::move(driver);
}

const WorkflowDriver* DriverRegistry::Find(const std::string& workflow_type) const {
  auto it = drivers_.find(workflow_type);
  return it == drivers_.end() ? nullptr : it->second.get();
}

void DriverRegistry::Forget(const std::string& run_id) const {
  for (const auto& [type, driver] : drivers_) driver->Forget(run_id);
}

std::map<std::string, std::vector<std::string>> DriverRegistry::Types() const {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [type, driver] : drivers_) out[type] = driver->Versions();
  return out;
}

Status DriverRegistry::Validate(const store::RunRequest& request,
                                const std::vector<SubmittedFile>& files) const {
  const WorkflowDriver* driver = Find(request.workflow_type);
  if (driver == nullptr) {
    std::string supported;
    for (const auto& [type, d] : drivers_) {
      if (!supported.empty()) supported += ", ";
      supported += type;
    }
    return InvalidArgument("workflow_type: \"" + request.workflow_type +
                           "\" is not supported (supported: " + supported + ")");
  }
  auto versions = driver->Versions();
  if (std::find(versions.begin(), versions.end(), request.workflow_type_version) ==
      versions.end()) {
    std::string supported;
    for (const auto& v : versions) {
      if (!supported.empty()) supported += ", ";
      supported += v;
    }
    return InvalidArgument("workflow_type_version: \"" + request.workflow_type_version +
                           "\" is not supported for " + request.workflow_type +
                           " (supported: " + supported + ")");
  }
  return driver->Validate(request, files);
}

}  // namespace sluice::engine
