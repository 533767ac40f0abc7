#pragma once
// YAML documents as a tree of nodes that remember where they came from (file:line:column), read
// with Debian's libyaml (event API). Config loaders walk the tree and report errors as
// "file:line:col: key.path: what is wrong" (h2o's configurator style).
// Anchors and aliases are resolved by copying the anchored node. Only the first document of a
// stream is read. Thread affinity: none.

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/base/status.h"

namespace common::yaml {

struct Mark {
  int line = 0;    // 1-based
  int column = 0;  // 1-based
};

class Node {
 public:
  enum class Kind { kNull, kScalar, kSequence, kMapping };

  Kind kind = Kind::kNull;
  std::string scalar;   // for kScalar
  bool quoted = false;  // scalar was single- or double-quoted (never null/bool/number by tag)
  std::vector<Node> items;                      // kSequence
  std::vector<std::pair<Node, Node>> entries;   // kMapping, in document order
  Mark mark;
  std::string file;

  bool IsNull() const {
    return kind == Kind::kNull ||
           (kind == Kind::kScalar && !quoted && (scalar == "~" || scalar == "null" || scalar == "Null" ||
                                                 scalar == "NULL" || scalar.empty()));
  }
  bool IsMap() const { return kind == Kind::kMapping; }
  bool IsSeq() const { return kind == Kind::kSequence; }
  bool IsScalar() const { return kind == Kind::kScalar; }
  // The value of `key` in a mapping, or nullptr.
  const Node* Get(std::string_view key) const;
  // "file:line:col" of this node.
  std::string Where() const;
  // InvalidArgument "file:line:col: path: msg".
  Status Error(std::string_view path, std::string_view msg) const;

  // Typed reads; errors name the position and `path`.
  Result<std::string> AsString(std::string_view path) const;
  Result<bool> AsBool(std::string_view path) const;
  Result<int64_t> AsInt(std::string_view path) const;
  Result<double> AsDouble(std::string_view path) const;
};

Result<Node> ParseString(std::string_view text, const std::string& filename);
Result<Node> ParseFile(const std::string& path);

}  // namespace common::yaml
