#pragma once
// Text exposition format encoder (shared/specs/exposition-format.md, version 0.0.4).
//
// Appends to a caller-owned std::string so the caller can reuse one buffer across scrapes: none
// of these functions allocate unless the buffer must grow. Numbers are formatted exactly as
// Go's client_golang does (expfmt writeFloat: 1, 0, -1, NaN, +Inf, -Inf special-cased, else
// strconv.FormatFloat(v, 'g', -1, 64): shortest round-trip digits, exponent form when the
// decimal exponent is < -4 or >= 6, at least two exponent digits).
// Thread affinity: none (pure functions).

#include <cstdint>
#include <string>
#include <string_view>

namespace common::expfmt {

enum class MetricType : uint8_t { kCounter, kGauge, kUntyped, kSummary, kHistogram };

std::string_view TypeName(MetricType t);

// Appends v as Go's client_golang writes a sample value.
void AppendFloat(std::string& out, double v);
// Appends a signed integer in decimal (timestamps, counts).
void AppendInt(std::string& out, int64_t v);
// Appends a label value escaped for the text format: \ -> \\, " -> \", newline -> \n.
void AppendLabelValue(std::string& out, std::string_view v);
// "# HELP name text\n" with \ and newline escaped in text.
void AppendHelp(std::string& out, std::string_view name, std::string_view help);
// "# TYPE name type\n".
void AppendType(std::string& out, std::string_view name, MetricType type);

// The content type of this format.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace common::expfmt
