#pragma once
// Message digests from mbedTLS (Debian's libmbedcrypto), so mbedTLS headers stay in common/tls.
// MD5 is here only for relabeling's hashmod (Prometheus shards targets with it); it is not used
// for anything that needs a secure digest. Thread affinity: none (pure functions).

#include <array>
#include <cstdint>
#include <string_view>

namespace common::tls {

// The MD5 digest of `data`. mbedTLS's software MD5 cannot fail; should a hardware-accelerated
// build ever report an error, the result is all zeros (hashmod then shards everything alike).
std::array<uint8_t, 16> Md5(std::string_view data);

}  // namespace common::tls
