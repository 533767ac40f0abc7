#pragma once
// Base64 (RFC 4648) through mbedTLS, for HTTP basic auth. Thread affinity: none.
#include <string>
#include <string_view>

namespace common::tls {

std::string Base64Encode(std::string_view in);

}  // namespace common::tls
