#pragma once
// Extracts a ttar archive (the plain-text archive node_exporter's fixtures use; format in
// shared/peer/node_exporter/README.md) under a destination directory. Test support only.

#include <string>

#include "common/base/status.h"

namespace tests {

// Unpacks `archive` into `dest` (created if needed). Paths in the archive are relative.
common::Status ExtractTtar(const std::string& archive, const std::string& dest);

}  // namespace tests
