#pragma once
// MetricSet: the samples of one collection pass, grouped into metric families, and the encoder
// that writes several sets as one text exposition, ordered as Go's client_golang orders it:
// families by name; samples of a family by label count, then by label values taken in
// label-name order; labels of a sample sorted by name.
//
// Memory: strings are copied into an arena owned by the set; Clear() keeps every buffer's
// capacity and the family table, so a steady-state collection pass does not allocate per sample.
// Thread affinity: a set is used by one thread at a time; Encode() reads sets that no thread is
// writing.

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/expfmt/encoder.h"

namespace common::metrics {

using common::expfmt::MetricType;

struct Label {
  std::string_view name;
  std::string_view value;
};

class MetricSet {
 public:
  MetricSet() = default;
  MetricSet(const MetricSet&) = delete;
  MetricSet& operator=(const MetricSet&) = delete;

  // Adds one sample to family `name` (created on first use with `help` and `type`; later calls
  // keep the first help and type). Label order does not matter; labels with an empty value are
  // kept (client_golang writes them as label=""); invalid UTF-8 in values becomes U+FFFD.
  void Add(std::string_view name, std::string_view help, MetricType type, double value,
           std::initializer_list<Label> labels = {}) {
    Add(name, help, type, value, std::span<const Label>(labels.begin(), labels.size()));
  }
  void Add(std::string_view name, std::string_view help, MetricType type, double value,
           std::span<const Label> labels);
  // Shorthands.
  void Gauge(std::string_view name, std::string_view help, double v,
             std::initializer_list<Label> labels = {}) {
    Add(name, help, MetricType::kGauge, v, labels);
  }
  void Counter(std::string_view name, std::string_view help, double v,
               std::initializer_list<Label> labels = {}) {
    Add(name, help, MetricType::kCounter, v, labels);
  }
  void Untyped(std::string_view name, std::string_view help, double v,
               std::initializer_list<Label> labels = {}) {
    Add(name, help, MetricType::kUntyped, v, labels);
  }

  // A summary: one line per quantile (label quantile="q" written last, as client_golang), then
  // name_sum and name_count. `quantiles` are (quantile, value) in the order to write.
  void AddSummary(std::string_view name, std::string_view help, std::span<const Label> labels,
                  std::span<const std::pair<double, double>> quantiles, double sum, uint64_t count);
  // A classic histogram: name_bucket lines with le="bound" (cumulative counts, ascending bounds,
  // the +Inf bucket added with `count`), then name_sum and name_count.
  void AddHistogram(std::string_view name, std::string_view help, std::span<const Label> labels,
                    std::span<const std::pair<double, uint64_t>> buckets, double sum,
                    uint64_t count);

  // Drops all samples, keeps capacity and the family table.
  void Clear();
  size_t size() const { return samples_.size(); }

 private:
  friend class Encoder;
  struct Ref {
    uint32_t off = 0;
    uint32_t len = 0;
  };
  struct Family {
    std::string name;
    std::string help;
    MetricType type;
    uint32_t samples = 0;  // in this pass
  };
  struct LabelRec {
    Ref name, value;
  };
  struct Sample {
    uint32_t family;
    uint32_t label_begin;
    uint32_t label_count;
    double value;            // plain samples; the sum for summaries and histograms
    uint32_t extra_begin = 0;  // into extras_ (quantiles or buckets)
    uint32_t extra_count = 0;
    uint64_t count = 0;      // summaries and histograms
  };
  uint32_t AddLabels(std::span<const Label> labels);
  std::string_view View(Ref r) const { return std::string_view(arena_.data() + r.off, r.len); }
  Ref Store(std::string_view s);
  Ref StoreUtf8(std::string_view s);

  std::vector<Family> families_;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::unordered_map<std::string, uint32_t, StringHash, std::equal_to<>> family_index_;
  std::vector<Sample> samples_;
  std::vector<LabelRec> labels_;
  std::vector<std::pair<double, double>> extras_;
  std::string arena_;
  std::string utf8_scratch_;
  mutable uint32_t order_ = 0;  // position in the current Encode() call
};

// Encodes sets as one exposition. Families of the same name in several sets are merged.
// Keeps scratch buffers between calls; one Encoder per thread.
class Encoder {
 public:
  // Appends the exposition of `sets` to `out` (HELP, TYPE, then samples of each family).
  void Encode(std::span<const MetricSet* const> sets, std::string& out);

 private:
  struct FamRef {
    const MetricSet* set;
    uint32_t family;
  };
  struct SampleRef {
    const MetricSet* set;
    const MetricSet::Sample* sample;
  };
  std::vector<FamRef> fams_;
  std::vector<SampleRef> samples_;
};

}  // namespace common::metrics
