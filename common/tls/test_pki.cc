#include "common/tls/test_pki.h"

#include <stdlib.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <vector>

#include "tests/support/process.h"

namespace common::tls {
namespace {

constexpr char kConfig[] = R"([req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[v3_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1
[v3_client]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
)";

Status Run(const std::vector<std::string>& argv) {
  tests::RunResult r = tests::RunCommand(argv, std::chrono::seconds(30));
  if (r.exit_code == 127) return Status::NotFound("openssl is not installed (Debian: openssl)");
  if (r.exit_code != 0) {
    std::string cmd;
    for (const auto& a : argv) cmd += (cmd.empty() ? "" : " ") + a;
    return Status::Internal("`" + cmd + "` exited " + std::to_string(r.exit_code) + ": " + r.err);
  }
  return Status::Ok();
}

}  // namespace

Result<std::unique_ptr<TestPki>> TestPki::Create() {
  std::string tmpl = (std::filesystem::temp_directory_path() / "lookout-pki-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) return Status::FromErrno(errno, "mkdtemp " + tmpl);
  std::unique_ptr<TestPki> pki(new TestPki(tmpl));
  const std::string d = pki->dir();
  LOOKOUT_RETURN_IF_ERROR(Run({"openssl", "version"}));
  {
    std::ofstream cnf(d + "/openssl.cnf");
    cnf << kConfig;
    if (!cnf) return Status::IOError("write " + d + "/openssl.cnf");
  }
  const std::vector<std::string> newkey = {"-newkey", "ec", "-pkeyopt",
                                           "ec_paramgen_curve:prime256v1", "-nodes"};
  auto self_signed = [&](const std::string& name, const std::string& cn) {
    std::vector<std::string> argv = {"openssl", "req", "-x509", "-config", d + "/openssl.cnf",
                                     "-extensions", "v3_ca", "-days", "2", "-subj", "/CN=" + cn,
                                     "-keyout", d + "/" + name + ".key", "-out",
                                     d + "/" + name + ".pem"};
    argv.insert(argv.end(), newkey.begin(), newkey.end());
    return Run(argv);
  };
  auto leaf = [&](const std::string& name, const std::string& cn, const std::string& ext,
                  int serial) {
    std::vector<std::string> req = {"openssl", "req", "-new", "-config", d + "/openssl.cnf",
                                    "-subj", "/CN=" + cn, "-keyout", d + "/" + name + ".key",
                                    "-out", d + "/" + name + ".csr"};
    req.insert(req.end(), newkey.begin(), newkey.end());
    LOOKOUT_RETURN_IF_ERROR(Run(req));
    return Run({"openssl", "x509", "-req", "-in", d + "/" + name + ".csr", "-CA", d + "/ca.pem",
                "-CAkey", d + "/ca.key", "-set_serial", std::to_string(serial), "-days", "2",
                "-extfile", d + "/openssl.cnf", "-extensions", ext, "-out",
                d + "/" + name + ".pem"});
  };
  LOOKOUT_RETURN_IF_ERROR(self_signed("ca", "Lookout Test CA"));
  LOOKOUT_RETURN_IF_ERROR(self_signed("other_ca", "Some Other CA"));
  LOOKOUT_RETURN_IF_ERROR(leaf("server", "localhost", "v3_server", 2));
  LOOKOUT_RETURN_IF_ERROR(leaf("client", "lookout-test-client", "v3_client", 3));
  return pki;
}

TestPki::~TestPki() {
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

}  // namespace common::tls
