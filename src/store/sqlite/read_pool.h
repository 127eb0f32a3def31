// ReadPool: a fixed set of read-only connections to one database, lent out one per read.
// Each connection keeps its own prepared-statement cache, so a hot read (GetRunStatus) is
// a cached statement and one index lookup. In WAL mode readers never wait for the writer.
//
// Thread-safety: thread-safe. Acquire blocks while every connection is lent out.
#pragma once

#include <condition_variable>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/thread_annotations.h"
#include "store/sqlite/connection.h"

namespace sluice::store::sqlite {

class ReadPool {
 public:
  // Returns a connection to the pool when destroyed.
  class Lease {
   public:
    Lease(ReadPool& pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    ~Lease() { pool_.Release(std::move(conn_)); }
    Lease(const Lease&) = delete;
    Lease& operator=(const Lease&) = delete;
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    ReadPool& pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Opens `size` read-only connections. kIo if any fails to open.
  static Result<std::unique_ptr<ReadPool>> Open(const std::string& path, int size,
                                                const ConnectionOptions& options);

  Lease Acquire();

 private:
  explicit ReadPool(std::vector<std::unique_ptr<Connection>> conns) : free_(std::move(conns)) {}
  void Release(std::unique_ptr<Connection> conn);

  Mutex mu_;
  std::condition_variable cv_;
  std::vector<std::unique_ptr<Connection>> free_ GUARDED_BY(mu_);
};

}  // namespace sluice::store::sqlite
