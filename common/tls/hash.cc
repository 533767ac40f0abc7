#include "common/tls/hash.h"

#include <mbedtls/md5.h>
#include <mbedtls/version.h>

namespace common::tls {

std::array<uint8_t, 16> Md5(std::string_view data) {
  std::array<uint8_t, 16> out{};
  const auto* in = reinterpret_cast<const unsigned char*>(data.data());
#if MBEDTLS_VERSION_MAJOR >= 3
  int rc = mbedtls_md5(in, data.size(), out.data());
#else
  int rc = mbedtls_md5_ret(in, data.size(), out.data());
#endif
  if (rc != 0) out.fill(0);
  return out;
}

}  // namespace common::tls
