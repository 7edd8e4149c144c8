#pragma once

// Helpers shared by the FreeBSD backend tests.

#include <atomic>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <string>

namespace jailwarden::platform::testing {

// The contents of tests/testdata/freebsd/<name>.
inline std::string ReadFreeBsdTestdata(const std::string& name) {
  std::ifstream in(std::string(JW_TESTDATA_DIR) + "/freebsd/" + name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Counts operator new calls made by this thread while an AllocationCounter
// is alive (operator new is replaced in alloc_counter.cc).
class AllocationCounter {
 public:
  AllocationCounter();
  ~AllocationCounter();
  std::size_t count() const;
};

}  // namespace jailwarden::platform::testing
