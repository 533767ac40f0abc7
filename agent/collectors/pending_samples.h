#pragma once
// PendingSamples: the samples of one collection pass, held back until the pass has parsed
// everything. For collectors whose upstream reads all files before exporting and so exports
// nothing when one of them fails: Add() while parsing, Flush() once all parsing succeeded.
//
// Records and their strings are reused between passes, so a steady-state pass does not allocate.
// Ownership: metric names and label values are copied; `help` and label *names* are kept as
// views and must outlive the next Flush() (string literals, in practice).
// Thread affinity: one collector's Update() at a time.

#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/metrics/metric_set.h"

namespace agent {

class PendingSamples {
 public:
  using MetricType = common::metrics::MetricType;
  using LabelList = std::initializer_list<std::pair<std::string_view, std::string_view>>;
  static constexpr size_t kMaxLabels = 6;  // labels beyond this are dropped

  // Forgets the records of the previous pass (keeps their storage).
  void Clear() { used_ = 0; }
  // The number of records; pass it as `unique_from` to start a keyed scope.
  size_t size() const { return used_; }

  // Records one sample. With `unique_from`, an earlier record of the same series (name and label
  // values) at or after that index is overwritten instead: upstream keeps such data in maps, so
  // a repeated key keeps its last value.
  void Add(std::string_view name, std::string_view help, MetricType type, double value,
           LabelList labels, size_t unique_from = SIZE_MAX) {
    for (size_t i = unique_from; i < used_; ++i) {
      if (Matches(recs_[i], name, labels)) {
        recs_[i].value = value;
        return;
      }
    }
    if (used_ == recs_.size()) recs_.emplace_back();
    Rec& r = recs_[used_++];
    r.name.assign(name);
    r.help = help;
    r.type = type;
    r.value = value;
    r.n = 0;
    for (const auto& [k, v] : labels) {
      if (r.n == kMaxLabels) break;
      r.label_names[r.n] = k;
      r.label_values[r.n].assign(v);
      ++r.n;
    }
  }

  // Adds every record to `out`.
  void Flush(common::metrics::MetricSet& out) {
    for (size_t i = 0; i < used_; ++i) {
      const Rec& r = recs_[i];
      for (size_t k = 0; k < r.n; ++k) {
        scratch_[k] = common::metrics::Label{r.label_names[k], r.label_values[k]};
      }
      out.Add(r.name, r.help, r.type, r.value,
              std::span<const common::metrics::Label>(scratch_.data(), r.n));
    }
  }

 private:
  struct Rec {
    std::string name;
    std::string_view help;
    MetricType type = MetricType::kUntyped;
    double value = 0;
    size_t n = 0;
    std::array<std::string_view, kMaxLabels> label_names;
    std::array<std::string, kMaxLabels> label_values;
  };

  static bool Matches(const Rec& r, std::string_view name, LabelList labels) {
    if (r.name != name || r.n != labels.size()) return false;
    size_t k = 0;
    for (const auto& [key, v] : labels) {
      if (r.label_names[k] != key || r.label_values[k] != v) return false;
      ++k;
    }
    return true;
  }

  std::vector<Rec> recs_;
  size_t used_ = 0;
  std::array<common::metrics::Label, kMaxLabels> scratch_;
};

}  // namespace agent
