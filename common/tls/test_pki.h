#pragma once
// Test-only: a throwaway PKI generated with the `openssl` command-line tool (Debian's openssl
// package) into a fresh temporary directory, removed again by the destructor. Keys are P-256.
//
//   ca          "Lookout Test CA"; signs server and client
//   server      CN=localhost, subjectAltName DNS:localhost, IP:127.0.0.1, serverAuth
//   client      CN=lookout-test-client, clientAuth
//   other_ca    an unrelated CA (for "signed by unknown authority")
//
// Thread affinity: none (files only). Tests use REQUIRE_TEST_PKI below, which skips when openssl
// is not installed (and fails under CI=true, where scripts/install-deps installs it).

#include <cstdlib>
#include <memory>
#include <string>

#include "common/base/status.h"

namespace common::tls {

class TestPki {
 public:
  // NotFound when `openssl` is not on PATH; Internal (with openssl's stderr) when it fails.
  static Result<std::unique_ptr<TestPki>> Create();
  ~TestPki();
  TestPki(const TestPki&) = delete;
  TestPki& operator=(const TestPki&) = delete;

  const std::string& dir() const { return dir_; }
  std::string ca_pem() const { return dir_ + "/ca.pem"; }
  std::string ca_key() const { return dir_ + "/ca.key"; }
  std::string server_pem() const { return dir_ + "/server.pem"; }
  std::string server_key() const { return dir_ + "/server.key"; }
  std::string client_pem() const { return dir_ + "/client.pem"; }
  std::string client_key() const { return dir_ + "/client.key"; }
  std::string other_ca_pem() const { return dir_ + "/other_ca.pem"; }

 private:
  explicit TestPki(std::string dir) : dir_(std::move(dir)) {}
  std::string dir_;
};

}  // namespace common::tls

// In a test body: declares `std::unique_ptr<common::tls::TestPki> var`, or skips the test (fails
// under CI=true) when openssl is missing.
#define REQUIRE_TEST_PKI(var)                                                              \
  std::unique_ptr<::common::tls::TestPki> var;                                             \
  do {                                                                                     \
    auto _pki = ::common::tls::TestPki::Create();                                          \
    if (!_pki.ok()) {                                                                      \
      const char* _ci = std::getenv("CI");                                                 \
      if (_pki.status().IsNotFound() && !(_ci && std::string(_ci) == "true")) {            \
        GTEST_SKIP() << _pki.status().ToString();                                          \
      }                                                                                    \
      FAIL() << _pki.status().ToString();                                                  \
    }                                                                                      \
    var = std::move(_pki).value();                                                         \
  } while (0)
