#pragma once
// Child processes for integration tests: run-and-capture with a time bound, and long-running
// peers (agent, Prometheus, node_exporter) that are killed when their handle goes away.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace tests {

struct RunResult {
  int exit_code = -1;  // -1 when killed by the time bound or a signal
  std::string out;     // stdout
  std::string err;     // stderr
};

// Runs argv[0] with argv, waits at most `limit`, and returns what it printed.
// `cwd`, when not empty, is the child's working directory.
RunResult RunCommand(const std::vector<std::string>& argv, std::chrono::milliseconds limit,
                     const std::string& cwd = "");

class Child {
 public:
  Child() = default;
  // Starts argv with stdout and stderr appended to `log_path`.
  Child(const std::vector<std::string>& argv, const std::string& log_path);
  ~Child();
  Child(Child&& o) noexcept : pid_(o.pid_) { o.pid_ = -1; }
  Child& operator=(Child&& o) noexcept;
  pid_t pid() const { return pid_; }
  bool Running();
  // SIGTERM, then SIGKILL after 5 s.
  void Stop();

 private:
  pid_t pid_ = -1;
};

// A free TCP port on 127.0.0.1 (bound then released).
int FreePort();
// GET http://127.0.0.1:port/path; returns the status (0 when the connection failed) and body.
int HttpGet(int port, const std::string& path, std::string& body,
            const std::string& extra_headers = "");
// POST with a body; returns the status (0 when the connection failed) and the response body.
int HttpPost(int port, const std::string& path, const std::string& body,
             const std::string& extra_headers, std::string& response_body);
// POST of a remote-write body (snappy-compressed protobuf, or anything a test wants refused) to
// /api/v1/write with the protocol's headers; returns the status and the response body.
int PostRemoteWrite(int port, const std::string& body, std::string& response_body);
// Percent-encodes everything but [A-Za-z0-9_.-] (for query strings and form bodies).
std::string UrlEncode(const std::string& s);
// Polls until GET returns 200 or `limit` passes.
bool WaitHttpOk(int port, const std::string& path, std::chrono::milliseconds limit);

}  // namespace tests
