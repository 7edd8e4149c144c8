// rctl_probe: a small static helper run inside a jail by the resource
// integration tests. Each mode provokes one RCTL limit and prints one
// result line "<mode> <key>=<value> ..." (then flushes), so the test can
// check the errno or count; signals (SIGSEGV, SIGXCPU, OOM SIGKILL) show in
// the exit status. Everything is bounded in count and time.
//
// Usage: rctl_probe [--wait] [--hold SECONDS] MODE ARGS...
//   (mode "hold FDS MB" takes commands on stdin: see ModeHold)
//   --wait   read one byte from stdin before acting (the test applies
//            limits to the running process first), after printing "ready".
//   --hold   keep what was allocated for SECONDS after printing the result
//            (the test samples usage meanwhile).

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/msg.h>
#include <sys/resource.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

namespace {

double Now() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double CpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

long Arg(int argc, char** argv, int i, long def) {
  return i < argc ? strtol(argv[i], nullptr, 10) : def;
}

int g_hold = 0;

void Hold() {
  fflush(stdout);
  if (g_hold > 0) {
    sleep(static_cast<unsigned>(g_hold));
  }
}

// Recursion that uses about 1 KiB of stack per level.
volatile int g_sink;
int Recurse(long depth) {
  volatile char pad[1024];
  pad[0] = static_cast<char>(depth);
  if (depth <= 0) {
    return pad[0];
  }
  int r = Recurse(depth - 1) + pad[0];
  g_sink = r;
  return r;
}

void* ThreadPause(void*) {
  pause();
  return nullptr;
}

volatile bool g_stop_spin = false;
void* Spin(void* arg) {
  double end = Now() + *static_cast<double*>(arg);
  while (!g_stop_spin && Now() < end) {
  }
  return nullptr;
}

int ModeMmap(bool writable, long mb) {
  size_t len = static_cast<size_t>(mb) << 20;
  void* p = mmap(nullptr, len, writable ? PROT_READ | PROT_WRITE : PROT_READ,
                 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    printf("mmap mb=%ld errno=%d\n", mb, errno);
  } else {
    printf("mmap mb=%ld errno=0\n", mb);
  }
  Hold();
  return 0;
}

int ModeTouch(long mb) {
  // Touches mb MiB in 1 MiB steps, reporting progress (OOM kills us).
  long done = 0;
  for (long i = 0; i < mb; ++i) {
    char* p = static_cast<char*>(malloc(1 << 20));
    if (p == nullptr) {
      printf("touch mb=%ld errno=%d\n", done, ENOMEM);
      Hold();
      return 0;
    }
    memset(p, 0x5a, 1 << 20);
    ++done;
    if (done % 8 == 0) {
      printf("progress mb=%ld\n", done);
      fflush(stdout);
    }
  }
  printf("touch mb=%ld errno=0\n", done);
  Hold();
  return 0;
}

int ModeFork(long n) {
  pid_t kids[512];
  long made = 0;
  int err = 0;
  for (; made < n && made < 512; ++made) {
    pid_t pid = fork();
    if (pid < 0) {
      err = errno;
      break;
    }
    if (pid == 0) {
      pause();
      _exit(0);
    }
    kids[made] = pid;
  }
  printf("fork made=%ld errno=%d\n", made, err);
  Hold();
  for (long i = 0; i < made; ++i) {
    kill(kids[i], SIGKILL);
  }
  for (long i = 0; i < made; ++i) {
    waitpid(kids[i], nullptr, 0);
  }
  return 0;
}

int ModeThreads(long n) {
  long made = 0;
  int err = 0;
  for (; made < n && made < 512; ++made) {
    pthread_t t;
    int rc = pthread_create(&t, nullptr, ThreadPause, nullptr);
    if (rc != 0) {
      err = rc;
      break;
    }
  }
  printf("threads made=%ld errno=%d\n", made, err);
  Hold();
  return 0;
}

int ModeOpen(long n) {
  long made = 0;
  int err = 0;
  for (; made < n && made < 100000; ++made) {
    if (open("/dev/null", O_RDONLY) < 0) {
      err = errno;
      break;
    }
  }
  printf("open made=%ld errno=%d\n", made, err);
  Hold();
  return 0;
}

int ModeMlock(long kb) {
  size_t len = static_cast<size_t>(kb) << 10;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    printf("mlock kb=%ld errno=%d\n", kb, errno);
    return 0;
  }
  int rc = mlock(p, len);
  printf("mlock kb=%ld errno=%d\n", kb, rc == 0 ? 0 : errno);
  Hold();
  return 0;
}

int ModePty(long n) {
  long made = 0;
  int err = 0;
  for (; made < n && made < 1000; ++made) {
    int fd = posix_openpt(O_RDWR | O_NOCTTY);
    if (fd < 0) {
      err = errno;
      break;
    }
  }
  printf("pty made=%ld errno=%d\n", made, err);
  Hold();
  return 0;
}

int ModeMsgget(long n) {
  int ids[1000];
  long made = 0;
  int err = 0;
  for (; made < n && made < 1000; ++made) {
    int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
    if (id < 0) {
      err = errno;
      break;
    }
    ids[made] = id;
  }
  printf("msgget made=%ld errno=%d\n", made, err);
  Hold();
  for (long i = 0; i < made; ++i) {
    msgctl(ids[i], IPC_RMID, nullptr);
  }
  return 0;
}

int ModeMsgsnd(long size, long n) {
  int id = msgget(IPC_PRIVATE, IPC_CREAT | 0600);
  if (id < 0) {
    printf("msgsnd made=0 errno=%d\n", errno);
    return 0;
  }
  struct {
    long mtype;
    char text[8192];
  } msg;
  msg.mtype = 1;
  memset(msg.text, 'x', sizeof(msg.text));
  long made = 0;
  int err = 0;
  for (; made < n && made < 100000; ++made) {
    if (msgsnd(id, &msg, static_cast<size_t>(size), IPC_NOWAIT) != 0) {
      err = errno;
      break;
    }
  }
  printf("msgsnd made=%ld errno=%d\n", made, err);
  Hold();
  msgctl(id, IPC_RMID, nullptr);
  return 0;
}

int ModeSemget(long nsems, long n) {
  int ids[1000];
  long made = 0;
  int err = 0;
  for (; made < n && made < 1000; ++made) {
    int id = semget(IPC_PRIVATE, static_cast<int>(nsems), IPC_CREAT | 0600);
    if (id < 0) {
      err = errno;
      break;
    }
    ids[made] = id;
  }
  printf("semget made=%ld errno=%d\n", made, err);
  Hold();
  for (long i = 0; i < made; ++i) {
    semctl(ids[i], 0, IPC_RMID);
  }
  return 0;
}

int ModeSemop(long nsops) {
  int id = semget(IPC_PRIVATE, 1, IPC_CREAT | 0600);
  if (id < 0) {
    printf("semop errno=%d\n", errno);
    return 0;
  }
  struct sembuf ops[1024];
  for (long i = 0; i < nsops && i < 1024; ++i) {
    ops[i].sem_num = 0;
    ops[i].sem_op = 1;
    ops[i].sem_flg = IPC_NOWAIT;
  }
  int rc = semop(id, ops, static_cast<size_t>(nsops));
  printf("semop nsops=%ld errno=%d\n", nsops, rc == 0 ? 0 : errno);
  semctl(id, 0, IPC_RMID);
  return 0;
}

int ModeShmget(long kb, long n) {
  int ids[1000];
  long made = 0;
  int err = 0;
  for (; made < n && made < 1000; ++made) {
    int id = shmget(IPC_PRIVATE, static_cast<size_t>(kb) << 10, IPC_CREAT | 0600);
    if (id < 0) {
      err = errno;
      break;
    }
    ids[made] = id;
  }
  printf("shmget made=%ld errno=%d\n", made, err);
  Hold();
  for (long i = 0; i < made; ++i) {
    shmctl(ids[i], IPC_RMID, nullptr);
  }
  return 0;
}

int ModeSpin(double seconds, long threads) {
  double t0 = Now();
  double c0 = CpuSeconds();
  pthread_t ts[16];
  if (threads > 16) {
    threads = 16;
  }
  for (long i = 0; i < threads; ++i) {
    pthread_create(&ts[i], nullptr, Spin, &seconds);
  }
  for (long i = 0; i < threads; ++i) {
    pthread_join(ts[i], nullptr);
  }
  double wall = Now() - t0;
  double cpu = CpuSeconds() - c0;
  printf("spin wall_ms=%.0f cpu_ms=%.0f pcpu=%.1f\n", wall * 1000, cpu * 1000,
         100.0 * cpu / wall);
  Hold();
  return 0;
}

// O_DIRECT I/O of `count` blocks of `block` bytes on `path`; write mode
// creates the file, read mode reads it back.
int ModeDirect(bool write_mode, long block, long count, const char* path) {
  int fd = open(path, (write_mode ? O_WRONLY | O_CREAT | O_TRUNC : O_RDONLY) | O_DIRECT, 0600);
  if (fd < 0) {
    printf("direct errno=%d\n", errno);
    return 0;
  }
  void* buf = nullptr;
  if (posix_memalign(&buf, 4096, static_cast<size_t>(block)) != 0) {
    printf("direct errno=%d\n", ENOMEM);
    return 0;
  }
  memset(buf, 0x33, static_cast<size_t>(block));
  double t0 = Now();
  long done = 0;
  int err = 0;
  for (; done < count; ++done) {
    ssize_t n = write_mode ? write(fd, buf, static_cast<size_t>(block))
                           : read(fd, buf, static_cast<size_t>(block));
    if (n != block) {
      err = n < 0 ? errno : EIO;
      break;
    }
  }
  if (write_mode) {
    fsync(fd);
  }
  double ms = (Now() - t0) * 1000;
  close(fd);
  printf("direct ops=%ld bytes=%ld ms=%.0f errno=%d\n", done, done * block, ms, err);
  Hold();
  return 0;
}

// Holds `fds` descriptors and `mb` MiB of read-only mapping, prints
// "hold fds=<n> mb=<m> errno=<e>", then obeys one-byte commands on stdin,
// each answered with one line:
//   o  open /dev/null once more (kept)      "open errno=<e> fd=<fd>"
//   m  map 1 MiB more, read-only (kept)     "mmap errno=<e>"
//   c  close every descriptor it opened     "closed n=<n>"
//   u  unmap every extra mapping            "unmapped n=<n>"
//   q or EOF: exit 0.
int ModeHold(long fds, long mb) {
  static int opened[4096];
  static void* maps[4096];
  long nopen = 0, nmap = 0;
  int err = 0;
  for (; nopen < fds && nopen < 4096; ++nopen) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) {
      err = errno;
      break;
    }
    opened[nopen] = fd;
  }
  if (mb > 0) {
    void* p = mmap(nullptr, static_cast<size_t>(mb) << 20, PROT_READ,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      err = errno;
    }
  }
  printf("hold fds=%ld mb=%ld errno=%d pid=%d\n", nopen, mb, err, getpid());
  fflush(stdout);
  for (;;) {
    char c;
    if (read(0, &c, 1) != 1 || c == 'q') {
      return 0;
    }
    if (c == 'o') {
      int fd = open("/dev/null", O_RDONLY);
      int e = fd < 0 ? errno : 0;
      if (fd >= 0 && nopen < 4096) {
        opened[nopen++] = fd;
      }
      printf("open errno=%d fd=%d\n", e, fd);
    } else if (c == 'm') {
      void* p = mmap(nullptr, 1 << 20, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      int e = p == MAP_FAILED ? errno : 0;
      if (p != MAP_FAILED && nmap < 4096) {
        maps[nmap++] = p;
      }
      printf("mmap errno=%d\n", e);
    } else if (c == 'c') {
      for (long k = 0; k < nopen; ++k) {
        close(opened[k]);
      }
      printf("closed n=%ld\n", nopen);
      nopen = 0;
    } else if (c == 'u') {
      for (long k = 0; k < nmap; ++k) {
        munmap(maps[k], 1 << 20);
      }
      printf("unmapped n=%ld\n", nmap);
      nmap = 0;
    }
    fflush(stdout);
  }
}

}  // namespace

int main(int argc, char** argv) {
  setvbuf(stdout, nullptr, _IOLBF, 0);
  int i = 1;
  bool wait = false;
  while (i < argc && argv[i][0] == '-' && argv[i][1] == '-') {
    if (strcmp(argv[i], "--wait") == 0) {
      wait = true;
      ++i;
    } else if (strcmp(argv[i], "--hold") == 0 && i + 1 < argc) {
      g_hold = atoi(argv[i + 1]);
      i += 2;
    } else {
      break;
    }
  }
  if (i >= argc) {
    fprintf(stderr, "usage: rctl_probe [--wait] [--hold S] MODE ARGS...\n");
    return 64;
  }
  if (wait) {
    printf("ready pid=%d\n", getpid());
    fflush(stdout);
    char c;
    if (read(0, &c, 1) != 1) {
      return 65;
    }
  }
  const char* mode = argv[i];
  auto A = [&](int k, long def) { return Arg(argc, argv, i + k, def); };
  if (strcmp(mode, "mmap") == 0) {
    return ModeMmap(true, A(1, 64));
  }
  if (strcmp(mode, "mmapro") == 0) {
    return ModeMmap(false, A(1, 64));
  }
  if (strcmp(mode, "touch") == 0) {
    return ModeTouch(A(1, 16));
  }
  if (strcmp(mode, "stack") == 0) {
    printf("stack kb=%ld start\n", A(1, 1024));
    fflush(stdout);
    Recurse(A(1, 1024));
    printf("stack kb=%ld errno=0\n", A(1, 1024));
    Hold();  // the stack mapping keeps its grown size meanwhile
    return 0;
  }
  if (strcmp(mode, "abort") == 0) {
    struct rlimit rl;
    getrlimit(RLIMIT_CORE, &rl);
    printf("abort core_soft=%lld\n", static_cast<long long>(rl.rlim_cur));
    fflush(stdout);
    // A few MiB of touched memory so the full core is larger than small limits.
    char* p = static_cast<char*>(malloc(4 << 20));
    memset(p, 1, 4 << 20);
    g_sink = p[100];
    abort();
  }
  if (strcmp(mode, "fork") == 0) {
    return ModeFork(A(1, 10));
  }
  if (strcmp(mode, "threads") == 0) {
    return ModeThreads(A(1, 10));
  }
  if (strcmp(mode, "open") == 0) {
    return ModeOpen(A(1, 10));
  }
  if (strcmp(mode, "mlock") == 0) {
    return ModeMlock(A(1, 1024));
  }
  if (strcmp(mode, "pty") == 0) {
    return ModePty(A(1, 10));
  }
  if (strcmp(mode, "msgget") == 0) {
    return ModeMsgget(A(1, 10));
  }
  if (strcmp(mode, "msgsnd") == 0) {
    return ModeMsgsnd(A(1, 1), A(2, 100));
  }
  if (strcmp(mode, "semget") == 0) {
    return ModeSemget(A(1, 5), A(2, 10));
  }
  if (strcmp(mode, "semop") == 0) {
    return ModeSemop(A(1, 16));
  }
  if (strcmp(mode, "shmget") == 0) {
    return ModeShmget(A(1, 64), A(2, 10));
  }
  if (strcmp(mode, "spin") == 0) {
    return ModeSpin(static_cast<double>(A(1, 1000)) / 1000.0, A(2, 1));
  }
  if (strcmp(mode, "dwrite") == 0 || strcmp(mode, "dread") == 0) {
    return ModeDirect(mode[1] == 'w', A(1, 1 << 20), A(2, 4),
                      i + 3 < argc ? argv[i + 3] : "/probe.dat");
  }
  if (strcmp(mode, "hold") == 0) {
    return ModeHold(A(1, 0), A(2, 0));
  }
  if (strcmp(mode, "sleep") == 0) {
    printf("sleep ms=%ld\n", A(1, 1000));
    fflush(stdout);
    usleep(static_cast<useconds_t>(A(1, 1000)) * 1000);
    return 0;
  }
  fprintf(stderr, "unknown mode %s\n", mode);
  return 64;
}
