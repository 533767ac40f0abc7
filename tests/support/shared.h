#pragma once
// Locating ../shared (peer test data and specs) and the built binaries from tests.
// SharedDir(): $LOOKOUT_SHARED_DIR, else <source>/../shared. When it is missing, tests call
// SkipOrFailWithoutShared(): a failure under CI=true, a skip with a clear message elsewhere.

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace tests {

inline std::string SourceDir() {
  const char* s = std::getenv("LOOKOUT_SOURCE_DIR");
  return s ? s : ".";
}
inline std::string BuildDir() {
  const char* s = std::getenv("LOOKOUT_BUILD_DIR");
  return s ? s : "build";
}
inline std::string SharedDir() {
  const char* s = std::getenv("LOOKOUT_SHARED_DIR");
  return s ? s : SourceDir() + "/../shared";
}
inline bool InCI() {
  const char* s = std::getenv("CI");
  return s != nullptr && std::string(s) == "true";
}

}  // namespace tests

// Use at the top of a test body: returns from it when `path` under ../shared is missing.
#define REQUIRE_SHARED(rel)                                                                 \
  do {                                                                                      \
    std::string _p = ::tests::SharedDir() + "/" + (rel);                                    \
    if (!std::filesystem::exists(_p)) {                                                     \
      if (::tests::InCI()) FAIL() << "missing shared test data " << _p << " (CI=true)";     \
      GTEST_SKIP() << "shared test data " << _p << " not found; set LOOKOUT_SHARED_DIR";    \
    }                                                                                       \
  } while (0)
