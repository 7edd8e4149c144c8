#pragma once

// SysV IPC accounting of a jail's IPC namespace (linux-mapping.md §5): a
// worker thread joins the namespace with setns(CLONE_NEWIPC) for each
// request (only that thread switches), runs the *_INFO ctl commands (0.6
// µs for the three) or writes the namespace's /proc/sys/kernel sysctls,
// and returns to the host's namespace. /proc/sysvipc and the ipc sysctls
// bind to the *caller's* namespace, which is why a thread is needed.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace jailwarden::platform {

// Namespace-wide SysV counts, in RCTL units.
struct SysvIpcCounts {
  int64_t msg_queues = 0;    // nmsgq       (MSG_INFO msgpool)
  int64_t msg_messages = 0;  // msgqqueued  (MSG_INFO msgmap)
  int64_t msg_bytes = 0;     // msgqsize    (MSG_INFO msgtql)
  int64_t sem_sets = 0;      //             (SEM_INFO semusz)
  int64_t sems = 0;          // nsem        (SEM_INFO semaem)
  int64_t shm_segments = 0;  // nshm        (SHM_INFO used_ids)
  int64_t shm_bytes = 0;     // shmsize     (SHM_INFO shm_tot × page size)
};

// Reads the counts of the calling thread's IPC namespace. Internal on a
// ctl failure (errno in the status).
absl::StatusOr<SysvIpcCounts> ReadSysvIpcCountsHere();

// The worker thread. Thread-safe: requests from several threads are run
// one at a time.
class IpcNamespaceWorker {
 public:
  // Starts the thread; it remembers its own (the host's) IPC namespace.
  static absl::StatusOr<std::unique_ptr<IpcNamespaceWorker>> Start();
  ~IpcNamespaceWorker();  // stops and joins
  IpcNamespaceWorker(const IpcNamespaceWorker&) = delete;
  IpcNamespaceWorker& operator=(const IpcNamespaceWorker&) = delete;

  // Runs `fn` on the worker while it is in the namespace of `ns_fd` (an
  // open /proc/<pid>/ns/ipc), then returns to the host namespace. The
  // setns errno's status if joining fails; Internal (and the worker
  // refuses further work) if it cannot return.
  absl::Status RunIn(int ns_fd, const std::function<absl::Status()>& fn);

  // ReadSysvIpcCountsHere() inside the namespace of `ns_fd`.
  absl::StatusOr<SysvIpcCounts> ReadCounts(int ns_fd);

 private:
  IpcNamespaceWorker() = default;
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<absl::Status()>* job_ = nullptr;
  int job_ns_ = -1;
  absl::Status job_status_;
  bool job_done_ = false;
  bool stop_ = false;
  bool broken_ = false;
  int home_ns_ = -1;
  std::mutex call_mu_;  // one RunIn at a time
  std::thread thread_;
};

// Opens /proc/<pid>/ns/ipc (O_CLOEXEC). NotFound if the process is gone.
absl::StatusOr<int> OpenIpcNamespace(int64_t pid);

}  // namespace jailwarden::platform
