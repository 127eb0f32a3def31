#include "store/sqlite/read_pool.h"

namespace sluice::store::sqlite {

Result<std::unique_ptr<ReadPool>> ReadPool::Open(const std::string& path, int size,
                                                 const ConnectionOptions& options) {
  ConnectionOptions read_options = options;
  read_options.read_only = true;
  std::vector<std::unique_ptr<Connection>> conns;
  for (int i = 0; i < (size < 1 ? 1 : size); ++i) {
    ASSIGN_OR_RETURN(auto conn, Connection::Open(path, read_options));
    conns.push_back(std::move(conn));
  }
  return std::unique_ptr<ReadPool>(new ReadPool(std::move(conns)));
}

ReadPool::Lease ReadPool::Acquire() {
  MutexLock lock(mu_);
  lock.Wait(cv_, [this]() NO_THREAD_SAFETY_ANALYSIS { return !free_.empty(); });
  std::unique_ptr<Connection> conn = std::move(free_.back());
  free_.pop_back();
  return Lease(*this, std::move(conn));
}

void ReadPool::Release(std::unique_ptr<Connection> conn) {
  {
    MutexLock lock(mu_);
    free_.push_back(std::move(conn));
  }
  cv_.notify_one();
}

}  // namespace sluice::store::sqlite
