#pragma once

// The standard process_* self-metrics of Prometheus client libraries for
// the running daemon: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_open_fds, process_max_fds and
// process_start_time_seconds. Linux reads /proc/self (stat, fd) and
// /proc/stat (btime); FreeBSD uses getrusage(2) and the kern.proc sysctls.
// A value that cannot be read is left out (its family header stays).
// Thread-safe (reads only the process' own kernel state).

#include <string>

namespace jailwarden::metrics {

// Appends the six families to `out` in the classic text format.
void AppendProcessFamilies(std::string& out);

}  // namespace jailwarden::metrics
