#pragma once
// Relabeling (shared/specs/file-sd.md section 3; Prometheus model/relabel): the rules of
// relabel_configs, metric_relabel_configs, alert_relabel_configs and write_relabel_configs.
// Thread affinity: a RelabelConfig is immutable after Compile() and may be shared by threads.

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "collector/model/labels.h"
#include "common/base/status.h"
#include "common/re2/regex.h"

namespace collector::model {

enum class RelabelAction {
  kReplace, kKeep, kDrop, kKeepEqual, kDropEqual, kHashMod, kLabelMap, kLabelDrop, kLabelKeep,
  kLowercase, kUppercase,
};

// Parses an action name case-insensitively ("replace", "HashMod", ...).
common::Result<RelabelAction> ParseRelabelAction(std::string_view s);

struct RelabelConfig {
  std::vector<std::string> source_labels;
  std::string separator = ";";
  std::string target_label;
  std::string regex = "(.*)";  // as written; compiled anchored into `re`
  uint64_t modulus = 0;
  std::string replacement = "$1";
  RelabelAction action = RelabelAction::kReplace;
  std::shared_ptr<const common::re2::Regex> re;  // set by Compile()

  // Compiles the regex and checks the rules of the spec (target_label required for replace, ...).
  common::Status Compile();
};

// Applies `cfgs` in order to `lb`. Returns false when a rule dropped the label set. Labels with
// empty values count as absent. A rule whose Compile() never succeeded (re == nullptr) is skipped.
bool Relabel(LabelsBuilder& lb, std::span<const RelabelConfig> cfgs);
// Convenience: relabels `in`; returns false (and leaves `out` unspecified) when dropped.
bool Relabel(const Labels& in, std::span<const RelabelConfig> cfgs, Labels& out);

}  // namespace collector::model
