#pragma once
// Small, allocation-conscious helpers for reading procfs and sysfs files. Pure functions of the
// paths they are given, so tests point them at node_exporter's fixture trees.
// Errors: a missing file is NotFound; any other failure of open/read is IOError; a value that
// does not parse is InvalidArgument naming the path. Thread affinity: none.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/base/status.h"

namespace agent::procfs {

using common::Result;
using common::Status;

// Reads a whole file into `buf` (cleared first). Reads at most `limit` bytes (procfs files
// report size 0, so this reads until EOF).
Status ReadFile(const std::string& path, std::string& buf, size_t limit = 16 << 20);
// Reads a whole file and strips trailing whitespace.
Result<std::string> ReadTrimmed(const std::string& path);
// Reads a file holding one unsigned (or signed, or float) number, as sysfs attributes do.
Result<uint64_t> ReadUint(const std::string& path);
Result<int64_t> ReadInt(const std::string& path);
Result<double> ReadDouble(const std::string& path);

// Entries of a directory (no "." and ".."), sorted by name. NotFound when it does not exist.
Result<std::vector<std::string>> ListDir(const std::string& path);
bool Exists(const std::string& path);
bool IsDir(const std::string& path);
// Target of a symlink, or NotFound.
Result<std::string> ReadLink(const std::string& path);

// Lexical path cleanup as Go's filepath.Clean: collapses "//", "." and "dir/.." (keeps leading
// ".." of relative paths); "" becomes ".".
std::string CleanPath(std::string_view p);

// Splits on runs of ASCII whitespace into `out` (cleared first); views point into `s`.
void SplitFields(std::string_view s, std::vector<std::string_view>& out);
// Splits on a single separator character (empty fields kept).
void Split(std::string_view s, char sep, std::vector<std::string_view>& out);
std::string_view TrimSpace(std::string_view s);

// Calls fn(line) for each line (without '\n').
template <typename F>
void ForEachLine(std::string_view s, F&& fn) {
  while (!s.empty()) {
    size_t nl = s.find('\n');
    std::string_view line = s.substr(0, nl);
    fn(line);
    if (nl == std::string_view::npos) break;
    s.remove_prefix(nl + 1);
  }
}

// Number parsing with no allocation; false on garbage or trailing bytes.
bool ParseUint(std::string_view s, uint64_t& out, int base = 10);
bool ParseInt(std::string_view s, int64_t& out, int base = 10);
// Accepts what Go's strconv.ParseFloat accepts for plain decimal and exponent forms.
bool ParseDouble(std::string_view s, double& out);

}  // namespace agent::procfs
