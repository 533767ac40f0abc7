#pragma once
// Labels: an immutable label set sorted by name, as Prometheus' labels.Labels.
// The metric name is the label "__name__". Equality and ordering compare name/value pairs in
// order (Prometheus' labels.Compare). Thread affinity: none (a value type).

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace collector::model {

inline constexpr std::string_view kMetricName = "__name__";

// Prometheus' legacy label name rule: [a-zA-Z_][a-zA-Z0-9_]*.
bool IsValidLabelName(std::string_view n);

struct Label {
  std::string name;
  std::string value;
  bool operator==(const Label&) const = default;
};

class Labels {
 public:
  Labels() = default;
  // Sorts by name; does not deduplicate (see Validate()).
  explicit Labels(std::vector<Label> ls);
  Labels(std::initializer_list<std::pair<std::string_view, std::string_view>> ls);

  const std::vector<Label>& items() const { return ls_ ? *ls_ : Empty(); }
  size_t size() const { return items().size(); }
  bool empty() const { return items().empty(); }
  auto begin() const { return items().begin(); }
  auto end() const { return items().end(); }
  // Value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  // Stable 64-bit hash of the pairs (xxhash-like mixing; not cryptographic).
  uint64_t Hash() const;
  // {__name__="x", a="b"}, as Prometheus' labels.String().
  std::string ToString() const;
  // Total bytes of names and values.
  size_t ByteSize() const;

  bool operator==(const Labels& o) const { return ls_ == o.ls_ || items() == o.items(); }
  // The identity of the shared pairs: copies have the same id, so equal ids mean equal label
  // sets (not conversely). Null when empty. Caches keyed by it must keep a copy alive.
  const void* id() const { return ls_.get(); }
  // Prometheus' labels.Compare: pairwise name then value, shorter first on a common prefix.
  static int Compare(const Labels& a, const Labels& b);
  bool operator<(const Labels& o) const { return Compare(*this, o) < 0; }

 private:
  static const std::vector<Label>& Empty();
  // Shared and immutable: a copy is a reference count, not a copy of the strings (the PromQL
  // engine copies a label set per sample and step). Null when empty.
  std::shared_ptr<const std::vector<Label>> ls_;
};

// Builds a Labels from unsorted pairs; later Set() of a name replaces it, Del() removes it.
class LabelsBuilder {
 public:
  LabelsBuilder() = default;
  explicit LabelsBuilder(const Labels& base);
  LabelsBuilder& Set(std::string_view name, std::string_view value);
  LabelsBuilder& Del(std::string_view name);
  Labels Build() const;  // drops empty values

 private:
  std::vector<Label> ls_;
};

}  // namespace collector::model
