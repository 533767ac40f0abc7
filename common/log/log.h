#pragma once
// Structured key=value logging in logfmt, as Prometheus' go-kit logger prints it:
//   ts=2026-11-21T21:00:00.000Z level=info component=agent msg="listening" address=:9100
// Lines go to stderr, written whole with one write(2) so concurrent lines do not interleave.
// Thread-safe. A Logger is a cheap value carrying its component name.

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace common::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

// Sets the minimum level printed (process-wide). Returns false for an unknown level name.
bool SetLevel(std::string_view name);

using KV = std::pair<std::string_view, std::string_view>;

class Logger {
 public:
  explicit Logger(std::string component) : component_(std::move(component)) {}
  Logger Child(std::string_view sub) const { return Logger(component_ + "/" + std::string(sub)); }
  void Log(Level level, std::string_view msg, std::initializer_list<KV> kvs = {}) const;
  void Debug(std::string_view m, std::initializer_list<KV> kv = {}) const { Log(Level::kDebug, m, kv); }
  void Info(std::string_view m, std::initializer_list<KV> kv = {}) const { Log(Level::kInfo, m, kv); }
  void Warn(std::string_view m, std::initializer_list<KV> kv = {}) const { Log(Level::kWarn, m, kv); }
  void Error(std::string_view m, std::initializer_list<KV> kv = {}) const { Log(Level::kError, m, kv); }

 private:
  std::string component_;
};

}  // namespace common::log
