// Micro-benchmark of the text exposition parser (common/expfmt/parser.h) on a real ~190 KB
// Prometheus scrape: shared/peer/expfmt/prometheus-textparse/alltypes.237mfs.prom.txt
// (1857 samples). Reports ns per sample. Prometheus' own parser (model/textparse) takes about
// 160-750 ns per sample on this file, depending on what the caller asks of it.
// The file is read from $LOOKOUT_SHARED_DIR, else from ../shared next to the source tree.

#include <benchmark/benchmark.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "common/expfmt/parser.h"

namespace {

using common::expfmt::TextParser;

const std::string& Body() {
  static const std::string body = [] {
    const char* env = std::getenv("LOOKOUT_SHARED_DIR");
    const std::string dir = env ? env : std::string(LOOKOUT_SOURCE_DIR) + "/../shared";
    std::ifstream in(dir + "/peer/expfmt/prometheus-textparse/alltypes.237mfs.prom.txt",
                     std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }();
  return body;
}

// mode 0: Next() and Value() only (a scraper with every series cached by SeriesText()).
// mode 1: also Labels() for every series (nothing cached: first scrape of a target).
void BM_ParseAlltypes(benchmark::State& state) {
  const std::string& body = Body();
  if (body.empty()) {
    state.SkipWithError("alltypes.237mfs.prom.txt not found; set LOOKOUT_SHARED_DIR");
    return;
  }
  const bool labels = state.range(0) == 1;
  int64_t samples = 0;
  for (auto _ : state) {
    TextParser p(body);
    samples = 0;
    double sum = 0;
    size_t label_bytes = 0;
    for (TextParser::Entry e; (e = p.Next()) != TextParser::Entry::kEnd;) {
      if (e == TextParser::Entry::kError) {
        state.SkipWithError("parse error");
        return;
      }
      if (e != TextParser::Entry::kSeries) continue;
      ++samples;
      sum += p.Value();
      label_bytes += p.SeriesText().size();
      if (labels) {
        for (const auto& [name, value] : p.Labels()) label_bytes += name.size() + value.size();
      }
    }
    benchmark::DoNotOptimize(sum);
    benchmark::DoNotOptimize(label_bytes);
  }
  state.SetItemsProcessed(state.iterations() * samples);
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(body.size()));
  state.counters["samples"] = static_cast<double>(samples);
  // CPU seconds per sample, printed with an SI prefix ("98n" is 98 ns).
  state.counters["per_sample"] = benchmark::Counter(
      static_cast<double>(samples),
      benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_ParseAlltypes)->ArgName("labels")->Arg(0)->Arg(1);

}  // namespace

BENCHMARK_MAIN();
