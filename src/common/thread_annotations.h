// Clang thread-safety annotations (checked with -Wthread-safety under clang; no-ops elsewhere)
// and an annotated Mutex. Thread-safety: Mutex is, of course, thread-safe.
#pragma once

#include <condition_variable>
#include <mutex>

#if defined(__clang__)
#define SLUICE_TSA(x) __attribute__((x))
#else
#define SLUICE_TSA(x)
#endif

#define CAPABILITY(x) SLUICE_TSA(capability(x))
#define SCOPED_CAPABILITY SLUICE_TSA(scoped_lockable)
#define GUARDED_BY(x) SLUICE_TSA(guarded_by(x))
#define PT_GUARDED_BY(x) SLUICE_TSA(pt_guarded_by(x))
#define REQUIRES(...) SLUICE_TSA(requires_capability(__VA_ARGS__))
#define ACQUIRE(...) SLUICE_TSA(acquire_capability(__VA_ARGS__))
#define RELEASE(...) SLUICE_TSA(release_capability(__VA_ARGS__))
#define EXCLUDES(...) SLUICE_TSA(locks_excluded(__VA_ARGS__))
#define NO_THREAD_SAFETY_ANALYSIS SLUICE_TSA(no_thread_safety_analysis)

namespace sluice {

class CAPABILITY("mutex") Mutex {
 public:
  void Lock() ACQUIRE() { mu_.lock(); }
  void Unlock() RELEASE() { mu_.unlock(); }
  // For condition variables: the underlying std::mutex.
  std::mutex& native() { return mu_; }

 private:
  std::mutex mu_;
};

class SCOPED_CAPABILITY MutexLock {
 public:
  explicit MutexLock(Mutex& mu) ACQUIRE(mu) : lock_(mu.native()) {}
  ~MutexLock() RELEASE() = default;
  MutexLock(const MutexLock&) = delete;
  MutexLock& operator=(const MutexLock&) = delete;
  // Waits on `cv` with the lock held (it is released while waiting).
  template <typename Pred>
  void Wait(std::condition_variable& cv, Pred pred) { cv.wait(lock_, pred); }
  template <typename Duration, typename Pred>
  bool WaitFor(std::condition_variable& cv, Duration d, Pred pred) {
    return cv.wait_for(lock_, d, pred);
  }

 private:
  std::unique_lock<std::mutex> lock_;
};

}  // namespace sluice
