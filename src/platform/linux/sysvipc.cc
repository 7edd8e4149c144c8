#include "platform/linux/sysvipc.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/ipc.h>
#include <sys/msg.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <unistd.h>

#include <cerrno>

#include "jailwarden/base/errno.h"
#include "jailwarden/base/strings.h"

namespace jailwarden::platform {

absl::StatusOr<SysvIpcCounts> ReadSysvIpcCountsHere() {
  SysvIpcCounts c;
  // MSG_INFO fills a struct msginfo through the msqid_ds pointer
  // (msgctl(2)): msgpool = queues in use, msgmap = messages, msgtql = bytes.
  struct msginfo mi {};
  if (msgctl(0, MSG_INFO, reinterpret_cast<struct msqid_ds*>(&mi)) < 0) {
    return ErrnoStatus(errno, "msgctl(MSG_INFO)");
  }
  c.msg_queues = mi.msgpool;
  c.msg_messages = mi.msgmap;
  c.msg_bytes = mi.msgtql;
  // SEM_INFO: semusz = sets in use, semaem = semaphores (semctl(2)).
  struct seminfo si {};
  union {
    int val;
    struct semid_ds* buf;
    unsigned short* array;
    struct seminfo* info;
  } arg;
  arg.info = &si;
  if (semctl(0, 0, SEM_INFO, arg) < 0) {
    return ErrnoStatus(errno, "semctl(SEM_INFO)");
  }
  c.sem_sets = si.semusz;
  c.sems = si.semaem;
  // SHM_INFO: used_ids = segments, shm_tot = pages (shmctl(2)).
  struct shm_info hi {};
  if (shmctl(0, SHM_INFO, reinterpret_cast<struct shmid_ds*>(&hi)) < 0) {
    return ErrnoStatus(errno, "shmctl(SHM_INFO)");
  }
  c.shm_segments = hi.used_ids;
  c.shm_bytes = static_cast<int64_t>(hi.shm_tot) * sysconf(_SC_PAGESIZE);
  return c;
}

absl::StatusOr<int> OpenIpcNamespace(int64_t pid) {
  std::string path = StrCat("/proc/", pid, "/ns/ipc");
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    int err = errno;
    if (err == ENOENT || err == ESRCH) {
      return absl::NotFoundError(StrCat(path, ": process gone"));
    }
    return ErrnoStatus(err, StrCat("open ", path));
  }
  return fd;
}

absl::StatusOr<std::unique_ptr<IpcNamespaceWorker>> IpcNamespaceWorker::Start() {
  std::unique_ptr<IpcNamespaceWorker> w(new IpcNamespaceWorker());
  // The host namespace to come back to, opened before the thread starts
  // (threads share the process's namespace until they setns).
  w->home_ns_ = open("/proc/thread-self/ns/ipc", O_RDONLY | O_CLOEXEC);
  if (w->home_ns_ < 0) {
    return ErrnoStatus(errno, "open /proc/thread-self/ns/ipc");
  }
  w->thread_ = std::thread([p = w.get()] { p->Loop(); });
  return w;
}

IpcNamespaceWorker::~IpcNamespaceWorker() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) {
    thread_.join();
  }
  if (home_ns_ >= 0) {
    close(home_ns_);
  }
}

void IpcNamespaceWorker::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return stop_ || (job_ != nullptr && !job_done_); });
    if (stop_) {
      return;
    }
    absl::Status st;
    if (broken_) {
      st = absl::InternalError("IPC namespace worker is stuck in a jail's namespace");
    } else if (setns(job_ns_, CLONE_NEWIPC) != 0) {
      st = ErrnoStatus(errno, "setns(CLONE_NEWIPC)");
    } else {
      st = (*job_)();
      if (setns(home_ns_, CLONE_NEWIPC) != 0) {
        broken_ = true;
        st = ErrnoStatus(errno, "setns back to the host IPC namespace");
      }
    }
    job_status_ = st;
    job_done_ = true;
    cv_.notify_all();
  }
}

absl::Status IpcNamespaceWorker::RunIn(int ns_fd, const std::function<absl::Status()>& fn) {
  std::lock_guard<std::mutex> call(call_mu_);
  std::unique_lock<std::mutex> lock(mu_);
  job_ = &fn;
  job_ns_ = ns_fd;
  job_done_ = false;
  cv_.notify_all();
  cv_.wait(lock, [&] { return job_done_; });
  job_ = nullptr;
  return job_status_;
}

absl::StatusOr<SysvIpcCounts> IpcNamespaceWorker::ReadCounts(int ns_fd) {
  SysvIpcCounts counts;
  absl::Status st = RunIn(ns_fd, [&]() -> absl::Status {
    absl::StatusOr<SysvIpcCounts> c = ReadSysvIpcCountsHere();
    if (!c.ok()) {
      return c.status();
    }
    counts = *c;
    return absl::OkStatus();
  });
  if (!st.ok()) {
    return st;
  }
  return counts;
}

}  // namespace jailwarden::platform
