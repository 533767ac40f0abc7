#include "common/tls/base64.h"

#include <mbedtls/base64.h>

namespace common::tls {

std::string Base64Encode(std::string_view in) {
  size_t olen = 0;
  mbedtls_base64_encode(nullptr, 0, &olen, reinterpret_cast<const unsigned char*>(in.data()), in.size());
  std::string out(olen, '\0');
  if (mbedtls_base64_encode(reinterpret_cast<unsigned char*>(out.data()), out.size(), &olen,
                            reinterpret_cast<const unsigned char*>(in.data()), in.size()) != 0) {
    return "";
  }
  out.resize(olen);
  return out;
}

}  // namespace common::tls
