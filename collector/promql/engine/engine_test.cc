// Tests for the PromQL evaluator over an in-memory Queryable, with hand-built ASTs (the parser is
// developed in parallel). Expected values are computed by hand from the definitions.

#include "collector/promql/engine/engine.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>

#include "collector/promql/engine/value.h"
#include "collector/promql/parser/parser.h"

namespace collector::promql {
namespace {

using parser::AggOp;
using parser::BinOp;
using parser::Expr;
using parser::ExprPtr;
using parser::ValueType;

// ---- in-memory storage ----------------------------------------------------------------------

class MemSeries : public storage::Series {
 public:
  // `st`: start timestamps parallel to `p`, or empty (every one 0).
  MemSeries(Labels l, std::vector<FPoint> p, std::vector<int64_t> st = {})
      : labels_(std::move(l)), points_(std::move(p)), st_(std::move(st)) {}
  const Labels& labels() const override { return labels_; }
  std::unique_ptr<storage::SampleIterator> Iterator() const override {
    return std::make_unique<It>(&points_, &st_);
  }

 private:
  class It : public storage::SampleIterator {
   public:
    It(const std::vector<FPoint>* p, const std::vector<int64_t>* st) : p_(p), st_(st) {}
    bool Next() override { return ++i_ < static_cast<int64_t>(p_->size()); }
    bool Seek(int64_t t) override {
      if (i_ < 0) i_ = 0;
      while (i_ < static_cast<int64_t>(p_->size()) && (*p_)[i_].t < t) ++i_;
      return i_ < static_cast<int64_t>(p_->size());
    }
    int64_t t() const override { return (*p_)[i_].t; }
    double v() const override { return (*p_)[i_].v; }
    int64_t st() const override { return st_->empty() ? 0 : (*st_)[i_]; }
    common::Status status() const override { return common::Status::Ok(); }

   private:
    const std::vector<FPoint>* p_;
    const std::vector<int64_t>* st_;
    int64_t i_ = -1;
  };
  Labels labels_;
  std::vector<FPoint> points_;
  std::vector<int64_t> st_;
};

class MemSet : public storage::SeriesSet {
 public:
  explicit MemSet(std::vector<MemSeries> s) : s_(std::move(s)) {}
  bool Next() override { return ++i_ < static_cast<int64_t>(s_.size()); }
  const storage::Series& At() const override { return s_[i_]; }
  common::Status status() const override { return common::Status::Ok(); }

 private:
  std::vector<MemSeries> s_;
  int64_t i_ = -1;
};

class MemStorage : public storage::Queryable {
 public:
  void Add(const Labels& l, int64_t t, double v) { data_[l].push_back(FPoint{t, v}); }
  // A sample with a start timestamp (ms; 0 = unknown).
  void Add(const Labels& l, int64_t t, double v, int64_t st) {
    Add(l, t, v);
    starts_[l][t] = st;
  }
  int queriers = 0;
  int selects = 0;
  common::Result<std::unique_ptr<storage::Querier>> NewQuerier(int64_t mint,
                                                               int64_t maxt) override {
    ++queriers;
    return std::unique_ptr<storage::Querier>(std::make_unique<Q>(this, mint, maxt));
  }

 private:
  class Q : public storage::Querier {
   public:
    Q(MemStorage* s, int64_t mint, int64_t maxt) : s_(s), mint_(mint), maxt_(maxt) {}
    std::unique_ptr<storage::SeriesSet> Select(bool, int64_t mint, int64_t maxt,
                                               std::span<const storage::Matcher> ms) override {
      ++s_->selects;
      EXPECT_GE(mint, mint_);
      EXPECT_LE(maxt, maxt_);
      std::vector<MemSeries> out;
      for (const auto& [l, pts] : s_->data_) {
        bool ok = true;
        for (const auto& m : ms) ok = ok && m.Matches(l.Get(m.name()));
        if (!ok) continue;
        std::vector<FPoint> sel;
        std::vector<int64_t> sel_st;
        auto starts = s_->starts_.find(l);
        for (const auto& p : pts) {
          if (p.t < mint || p.t > maxt) continue;
          sel.push_back(p);
          if (starts == s_->starts_.end()) continue;
          auto st = starts->second.find(p.t);
          sel_st.push_back(st == starts->second.end() ? 0 : st->second);
        }
        out.emplace_back(l, std::move(sel), std::move(sel_st));
      }
      return std::make_unique<MemSet>(std::move(out));
    }
    common::Result<std::vector<std::string>> LabelNames(std::span<const storage::Matcher>) override {
      return std::vector<std::string>{};
    }
    common::Result<std::vector<std::string>> LabelValues(
        std::string_view, std::span<const storage::Matcher>) override {
      return std::vector<std::string>{};
    }

   private:
    MemStorage* s_;
    int64_t mint_, maxt_;
  };
  std::map<Labels, std::vector<FPoint>> data_;
  std::map<Labels, std::map<int64_t, int64_t>> starts_;  // labels -> t -> start timestamp
};

// ---- AST builders ---------------------------------------------------------------------------

storage::Matcher Eq(const std::string& n, const std::string& v) {
  return *storage::Matcher::Make(storage::Matcher::Type::kEqual, n, v);
}

std::unique_ptr<parser::VectorSelector> Sel(const std::string& name,
                                            std::vector<storage::Matcher> extra = {},
                                            int pos = 0) {
  auto vs = std::make_unique<parser::VectorSelector>();
  vs->name = name;
  if (!name.empty()) vs->matchers.push_back(Eq("__name__", name));
  for (auto& m : extra) vs->matchers.push_back(m);
  vs->pos = {pos, pos + static_cast<int>(name.size())};
  return vs;
}

ExprPtr Mat(ExprPtr vs, int64_t range_ms) {
  auto ms = std::make_unique<parser::MatrixSelector>();
  ms->pos = vs->pos;
  ms->vector_selector = std::move(vs);
  ms->range_ms = range_ms;
  return ms;
}

ExprPtr Num(double v) {
  auto n = std::make_unique<parser::NumberLiteral>();
  n->val = v;
  return n;
}

ExprPtr Str(const std::string& s) {
  auto n = std::make_unique<parser::StringLiteral>();
  n->val = s;
  return n;
}

const parser::Function* Fn(const std::string& name, std::vector<ValueType> args,
                           ValueType ret = ValueType::kVector) {
  static std::map<std::string, parser::Function> fns;
  auto& f = fns[name];
  f.name = name;
  f.arg_types = std::move(args);
  f.return_type = ret;
  return &f;
}

ExprPtr CallOf(const parser::Function* f, std::vector<ExprPtr> args, int pos = 0) {
  auto c = std::make_unique<parser::Call>();
  c->func = f;
  c->args = std::move(args);
  c->pos = {pos, pos + 1};
  return c;
}

template <typename... A>
std::vector<ExprPtr> Args(A... a) {
  std::vector<ExprPtr> v;
  (v.push_back(std::move(a)), ...);
  return v;
}

ExprPtr Bin(BinOp op, ExprPtr l, ExprPtr r, std::optional<parser::VectorMatching> m = {},
            bool ret_bool = false) {
  auto b = std::make_unique<parser::BinaryExpr>();
  b->op = op;
  b->lhs = std::move(l);
  b->rhs = std::move(r);
  b->matching = std::move(m);
  b->return_bool = ret_bool;
  return b;
}

ExprPtr Agg(AggOp op, ExprPtr e, std::vector<std::string> by = {}, bool without = false,
            ExprPtr param = nullptr) {
  auto a = std::make_unique<parser::AggregateExpr>();
  a->op = op;
  a->expr = std::move(e);
  a->grouping = std::move(by);
  a->without = without;
  a->param = std::move(param);
  return a;
}

ExprPtr Subq(ExprPtr e, int64_t range, int64_t step) {
  auto s = std::make_unique<parser::SubqueryExpr>();
  s->expr = std::move(e);
  s->range_ms = range;
  s->step_ms = step;
  return s;
}

constexpr int64_t kMin = 60 * 1000;

const Vector& Vec(const QueryResult& r) { return std::get<Vector>(r.value); }
const Matrix& Mtx(const QueryResult& r) { return std::get<Matrix>(r.value); }

double ValueOf(const Vector& v, const Labels& l) {
  for (const auto& s : v) {
    if (s.metric == l) return s.v;
  }
  ADD_FAILURE() << "no sample for " << l.ToString();
  return std::nan("");
}

class EngineTest : public ::testing::Test {
 protected:
  // Loads `name{labels}` with values v0, v1, ... at 0, step, 2*step, ...
  void Load(const Labels& l, int64_t step, std::vector<double> vals) {
    for (size_t i = 0; i < vals.size(); ++i) st_.Add(l, static_cast<int64_t>(i) * step, vals[i]);
  }
  MemStorage st_;
  Engine eng_{EngineOptions{}};
};

// ---- tests ----------------------------------------------------------------------------------

TEST_F(EngineTest, VectorSelectorLookbackAndStaleness) {
  Load({{"__name__", "m"}, {"a", "1"}}, kMin, {1, 2, 3});
  st_.Add({{"__name__", "m"}, {"a", "2"}}, 0, 10);
  st_.Add({{"__name__", "m"}, {"a", "2"}}, kMin, storage::StaleNaN());
  auto sel = Sel("m");
  auto r = eng_.Instant(st_, *sel, 2 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(Vec(*r).size(), 1u);  // a=2 went stale at 1m
  EXPECT_EQ(Vec(*r)[0].v, 3);
  EXPECT_EQ(Vec(*r)[0].t, 2 * kMin);
  // Lookback is left-open: the sample at 2m is visible until 7m exclusive.
  r = eng_.Instant(st_, *sel, 2 * kMin + 5 * kMin - 1);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r).size(), 1u);
  r = eng_.Instant(st_, *sel, 2 * kMin + 5 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r).size(), 0u);
  // Before staleness a=2 is visible.
  r = eng_.Instant(st_, *sel, 30 * 1000);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r).size(), 2u);
  EXPECT_EQ(st_.queriers, 4);
}

TEST_F(EngineTest, OffsetAndAt) {
  Load({{"__name__", "m"}}, kMin, {0, 10, 20, 30, 40});
  auto s = Sel("m");
  s->offset_ms = 2 * kMin;
  auto r = eng_.Instant(st_, *s, 4 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r)[0].v, 20);
  auto s2 = Sel("m");
  s2->offset_ms = -kMin;
  r = eng_.Instant(st_, *s2, 2 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r)[0].v, 30);
  auto s3 = Sel("m");
  s3->at_ms = kMin;
  r = eng_.Range(st_, *s3, 0, 4 * kMin, kMin);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Mtx(*r).size(), 1u);
  ASSERT_EQ(Mtx(*r)[0].points.size(), 5u);
  for (const auto& p : Mtx(*r)[0].points) EXPECT_EQ(p.v, 10);
  auto s4 = Sel("m");
  s4->at_modifier = parser::AtModifier::kEnd;
  r = eng_.Range(st_, *s4, 0, 3 * kMin, kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Mtx(*r)[0].points[0].v, 30);
}

TEST_F(EngineTest, RateExtrapolation) {
  // 0, 10, ..., 100 every 30s; rate over [5m] at 5m: window (0, 5m] holds 30s..300s
  // (10 points from 10 to 100). Extrapolation: to_start = 30s <= 1.1*30s avg -> extrapolate
  // fully, but the zero point: 270s*(10/90) = 30s, same. to_end = 0. interval = 270+30 = 300s.
  // increase = 90 * 300/270 = 100; rate = 100/300.
  Load({{"__name__", "c_total"}}, 30 * 1000, {0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100});
  auto rate = CallOf(Fn("rate", {ValueType::kMatrix}), Args(Mat(Sel("c_total"), 5 * kMin)));
  auto r = eng_.Instant(st_, *rate, 5 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(Vec(*r).size(), 1u);
  EXPECT_NEAR(Vec(*r)[0].v, 100.0 / 300, 1e-12);
  EXPECT_TRUE(Vec(*r)[0].metric.empty());  // name dropped
  EXPECT_TRUE(r->annotations.infos.empty());

  auto inc = CallOf(Fn("increase", {ValueType::kMatrix}), Args(Mat(Sel("c_total"), 5 * kMin)));
  r = eng_.Instant(st_, *inc, 5 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(Vec(*r)[0].v, 100, 1e-9);

  // Counter reset: 0 10 20 5 15 at 1m steps; increase over [4m] at 4m: window (0,4m]
  // = 10 20 5 15 -> raw 5 + 20 (reset) = 25 over 3m sampled; to_start 1m < 1.1m -> extend,
  // zero point 180s*(10/25)=72s > 60s so 60s; interval 240s; 25*240/180.
  Load({{"__name__", "r_total"}}, kMin, {0, 10, 20, 5, 15});
  auto inc2 = CallOf(Fn("increase", {ValueType::kMatrix}), Args(Mat(Sel("r_total"), 4 * kMin)));
  r = eng_.Instant(st_, *inc2, 4 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(Vec(*r)[0].v, 25.0 * 240 / 180, 1e-9);
}

TEST_F(EngineTest, RateNonCounterInfo) {
  Load({{"__name__", "foo"}}, kMin, {1, 2, 3});
  auto rate = CallOf(Fn("rate", {ValueType::kMatrix}), Args(Mat(Sel("foo", {}, 5), 5 * kMin)));
  auto r = eng_.Instant(st_, *rate, 2 * kMin);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->annotations.infos.size(), 1u);
  EXPECT_EQ(r->annotations.infos[0],
            "PromQL info: metric might not be a counter, name does not end in "
            "_total/_sum/_count/_bucket: \"foo\" (1:6)");
}

TEST_F(EngineTest, IrateDerivAndOverTime) {
  Load({{"__name__", "g"}}, kMin, {1, 3, 2, 6});
  auto irate = CallOf(Fn("irate", {ValueType::kMatrix}), Args(Mat(Sel("g"), 10 * kMin)));
  auto r = eng_.Instant(st_, *irate, 3 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(Vec(*r)[0].v, 4.0 / 60, 1e-12);
  auto deriv = CallOf(Fn("deriv", {ValueType::kMatrix}), Args(Mat(Sel("g"), 10 * kMin)));
  r = eng_.Instant(st_, *deriv, 3 * kMin);
  ASSERT_TRUE(r.ok());
  // x = 0,60,120,180; y = 1,3,2,6. slope = cov/var = (sum xy - n mx my)/(sum x^2 - n mx^2)
  // mx=90 my=3; sum xy = 0+180+240+1080=1500; 1500-4*90*3=420; sum x^2=50400-4*8100=18000.
  EXPECT_NEAR(Vec(*r)[0].v, 420.0 / 18000, 1e-12);
  auto maxo = CallOf(Fn("max_over_time", {ValueType::kMatrix}), Args(Mat(Sel("g"), 2 * kMin)));
  r = eng_.Instant(st_, *maxo, 3 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r)[0].v, 6);  // window (1m,3m] = 2, 6
  auto last = CallOf(Fn("last_over_time", {ValueType::kMatrix}), Args(Mat(Sel("g"), 2 * kMin)));
  r = eng_.Instant(st_, *last, 3 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r)[0].metric.Get("__name__"), "g");  // last_over_time keeps the name
  auto changes = CallOf(Fn("changes", {ValueType::kMatrix}), Args(Mat(Sel("g"), 10 * kMin)));
  r = eng_.Instant(st_, *changes, 3 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r)[0].v, 3);
  auto resets = CallOf(Fn("resets", {ValueType::kMatrix}), Args(Mat(Sel("g"), 10 * kMin)));
  r = eng_.Instant(st_, *resets, 3 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r)[0].v, 1);
}

TEST_F(EngineTest, Aggregations) {
  Load({{"__name__", "x"}, {"job", "a"}, {"i", "1"}}, kMin, {1});
  Load({{"__name__", "x"}, {"job", "a"}, {"i", "2"}}, kMin, {3});
  Load({{"__name__", "x"}, {"job", "b"}, {"i", "1"}}, kMin, {10});
  auto sum = Agg(AggOp::kSum, Sel("x"), {"job"});
  auto r = eng_.Instant(st_, *sum, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"job", "a"}}), 4);
  EXPECT_EQ(ValueOf(Vec(*r), {{"job", "b"}}), 10);
  auto avg = Agg(AggOp::kAvg, Sel("x"), {"i"}, true);
  r = eng_.Instant(st_, *avg, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"job", "a"}}), 2);
  auto sd = Agg(AggOp::kStddev, Sel("x"));
  r = eng_.Instant(st_, *sd, 0);
  ASSERT_TRUE(r.ok());
  // mean 14/3; deviations^2: (11/3)^2+(5/3)^2+(16/3)^2 = (121+25+256)/9 = 402/9; /3.
  EXPECT_NEAR(ValueOf(Vec(*r), {}), std::sqrt(402.0 / 27), 1e-12);
  auto top = Agg(AggOp::kTopK, Sel("x"), {}, false, Num(2));
  r = eng_.Instant(st_, *top, 0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Vec(*r).size(), 2u);
  EXPECT_EQ(Vec(*r)[0].v, 10);
  EXPECT_EQ(Vec(*r)[1].v, 3);
  EXPECT_EQ(Vec(*r)[0].metric.Get("__name__"), "x");
  auto q = Agg(AggOp::kQuantile, Sel("x"), {}, false, Num(0.5));
  r = eng_.Instant(st_, *q, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {}), 3);
  auto cv = Agg(AggOp::kCountValues, Sel("x"), {}, false, Str("val"));
  r = eng_.Instant(st_, *cv, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"val", "10"}}), 1);
}

TEST_F(EngineTest, ArithmeticAndComparison) {
  Load({{"__name__", "a"}, {"k", "1"}}, kMin, {6});
  Load({{"__name__", "b"}, {"k", "1"}}, kMin, {4});
  auto e = Bin(BinOp::kMod, Sel("a"), Sel("b"));
  auto r = eng_.Instant(st_, *e, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"k", "1"}}), 2);
  auto c = Bin(BinOp::kGtr, Sel("a"), Sel("b"));
  r = eng_.Instant(st_, *c, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"__name__", "a"}, {"k", "1"}}), 6);
  auto cb = Bin(BinOp::kLss, Sel("a"), Num(5), {}, true);
  r = eng_.Instant(st_, *cb, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"k", "1"}}), 0);
  auto sc = Bin(BinOp::kPow, Num(2), Num(10));
  r = eng_.Instant(st_, *sc, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(std::get<Scalar>(r->value).v, 1024);
  auto neg = Bin(BinOp::kMod, Num(-7), Sel("b"));
  r = eng_.Instant(st_, *neg, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"k", "1"}}), -3);  // math.Mod keeps the dividend's sign
}

TEST_F(EngineTest, VectorMatchingErrors) {
  st_.Add({{"__name__", "dup_metric"}, {"label", "alpha"}}, 0, 1);
  st_.Add({{"__name__", "dup_metric"}, {"label", "beta"}}, 0, 2);
  st_.Add({{"__name__", "scalar_metric"}}, 0, 3);
  parser::VectorMatching on;
  on.on = true;
  auto e = Bin(BinOp::kGtr, Sel("scalar_metric"), Sel("dup_metric"), on);
  auto r = eng_.Instant(st_, *e, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(),
            "found duplicate series for the match group {} on the right hand-side of the "
            "operation: [{__name__=\"dup_metric\", label=\"alpha\"}, {__name__=\"dup_metric\", "
            "label=\"beta\"}];many-to-many matching not allowed: matching labels must be unique "
            "on one side");
  // group_left accepts the many side on the left.
  parser::VectorMatching gl = on;
  gl.card = parser::Cardinality::kManyToOne;
  auto e2 = Bin(BinOp::kAdd, Sel("dup_metric"), Sel("scalar_metric"), gl);
  r = eng_.Instant(st_, *e2, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueOf(Vec(*r), {{"label", "beta"}}), 5);
  // Dropping names makes identical label sets.
  st_.Add({{"__name__", "other"}, {"label", "alpha"}}, 0, 7);
  auto sel2 = std::make_unique<parser::VectorSelector>();
  sel2->matchers.push_back(Eq("label", "alpha"));
  auto e4 = CallOf(Fn("abs", {ValueType::kVector}), Args(std::move(sel2)));
  r = eng_.Instant(st_, *e4, 0);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "vector cannot contain metrics with the same labelset");
}

TEST_F(EngineTest, SetOperators) {
  Load({{"__name__", "a"}, {"k", "1"}}, kMin, {1});
  Load({{"__name__", "a"}, {"k", "2"}}, kMin, {2});
  Load({{"__name__", "b"}, {"k", "2"}}, kMin, {20});
  Load({{"__name__", "b"}, {"k", "3"}}, kMin, {30});
  auto r = eng_.Instant(st_, *Bin(BinOp::kLand, Sel("a"), Sel("b")), 0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Vec(*r).size(), 1u);
  EXPECT_EQ(Vec(*r)[0].v, 2);
  r = eng_.Instant(st_, *Bin(BinOp::kLor, Sel("a"), Sel("b")), 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(Vec(*r).size(), 3u);
  r = eng_.Instant(st_, *Bin(BinOp::kLunless, Sel("a"), Sel("b")), 0);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Vec(*r).size(), 1u);
  EXPECT_EQ(Vec(*r)[0].v, 1);
}

TEST_F(EngineTest, RangeQueryStepping) {
  Load({{"__name__", "m"}}, kMin, {0, 1, 2, 3, 4, 5});
  auto e = Bin(BinOp::kMul, Sel("m"), Num(2));
  auto r = eng_.Range(st_, *e, kMin, 5 * kMin, 2 * kMin);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Mtx(*r).size(), 1u);
  const auto& pts = Mtx(*r)[0].points;
  ASSERT_EQ(pts.size(), 3u);
  EXPECT_EQ(pts[0].t, kMin);
  EXPECT_EQ(pts[0].v, 2);
  EXPECT_EQ(pts[2].v, 10);
  EXPECT_TRUE(Mtx(*r)[0].metric.empty());
  auto t = CallOf(Fn("time", {}, ValueType::kScalar), {});
  r = eng_.Range(st_, *t, 0, 2 * kMin, kMin);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Mtx(*r).size(), 1u);
  EXPECT_EQ(Mtx(*r)[0].points[2].v, 120);
  // A range selector cannot be a range query.
  r = eng_.Range(st_, *Mat(Sel("m"), kMin), 0, kMin, kMin);
  EXPECT_TRUE(r.status().IsInvalidArgument());
}

TEST_F(EngineTest, DelayedNameRemovalMergesDisjointSeries) {
  st_.Add({{"__name__", "metric_a"}}, 0, 1);
  st_.Add({{"__name__", "metric_b"}}, 0, 3);
  st_.Add({{"__name__", "metric_b"}}, 10 * kMin, 4);
  auto neg = [](ExprPtr e) {
    auto u = std::make_unique<parser::UnaryExpr>();
    u->expr = std::move(e);
    return u;
  };
  auto e = Bin(BinOp::kLor, neg(Sel("metric_a")), neg(Sel("metric_b")));
  auto r = eng_.Range(st_, *e, 0, 20 * kMin, 10 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(Mtx(*r).size(), 1u);
  ASSERT_EQ(Mtx(*r)[0].points.size(), 2u);
  EXPECT_EQ(Mtx(*r)[0].points[0].v, -1);
  EXPECT_EQ(Mtx(*r)[0].points[1].v, -4);
}

TEST_F(EngineTest, Subquery) {
  // m = 0,1,2,... every minute. max_over_time(m[5m:2m]) at 10m: steps aligned to 2m in
  // (5m,10m] = 6m, 8m, 10m -> 10. sum_over_time -> 6+8+10 = 24.
  std::vector<double> v;
  for (int i = 0; i <= 20; ++i) v.push_back(i);
  Load({{"__name__", "m"}}, kMin, v);
  auto e = CallOf(Fn("sum_over_time", {ValueType::kMatrix}),
                  Args(Subq(Sel("m"), 5 * kMin, 2 * kMin)));
  auto r = eng_.Instant(st_, *e, 10 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueOf(Vec(*r), {}), 24);
  // At 11m: (6m, 11m] -> 8m, 10m -> 18.
  r = eng_.Instant(st_, *e, 11 * kMin);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {}), 18);
  // Range query over the same expression reuses inner steps.
  r = eng_.Range(st_, *e, 10 * kMin, 11 * kMin, kMin);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Mtx(*r).size(), 1u);
  EXPECT_EQ(Mtx(*r)[0].points[0].v, 24);
  EXPECT_EQ(Mtx(*r)[0].points[1].v, 18);
  // Default step (1m) at top level: matrix result.
  auto sq = Subq(Sel("m"), 3 * kMin, 0);
  r = eng_.Instant(st_, *sq, 10 * kMin);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(Mtx(*r).size(), 1u);
  EXPECT_EQ(Mtx(*r)[0].points.size(), 3u);  // 8m, 9m, 10m
}

TEST_F(EngineTest, AbsentAndLabelReplace) {
  Load({{"__name__", "m"}, {"src", "a-b"}}, kMin, {1});
  auto ab = CallOf(Fn("absent", {ValueType::kVector}), Args(Sel("nope", {Eq("job", "x")})));
  auto r = eng_.Instant(st_, *ab, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {{"job", "x"}}), 1);
  auto lr = CallOf(Fn("label_replace", {ValueType::kVector, ValueType::kString, ValueType::kString,
                                        ValueType::kString, ValueType::kString}),
                   Args(Sel("m"), Str("dst"), Str("$1"), Str("src"), Str("(.*)-.*")));
  r = eng_.Instant(st_, *lr, 0);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueOf(Vec(*r), {{"__name__", "m"}, {"dst", "a"}, {"src", "a-b"}}), 1);
}

TEST_F(EngineTest, HistogramQuantile) {
  // Buckets 0:0, 2:1, 4:2, 6:3, +Inf:3 -> q(0.5): rank 1.5 in (2,4] -> 3.
  for (auto [le, v] : std::vector<std::pair<std::string, double>>{
           {"0", 0}, {"2", 1}, {"4", 2}, {"6", 3}, {"+Inf", 3}}) {
    st_.Add({{"__name__", "h_bucket"}, {"le", le}}, 0, v);
  }
  auto hq = CallOf(Fn("histogram_quantile", {ValueType::kScalar, ValueType::kVector}),
                   Args(Num(0.5), Sel("h_bucket")));
  auto r = eng_.Instant(st_, *hq, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(ValueOf(Vec(*r), {}), 3);
  auto hf = CallOf(Fn("histogram_fraction",
                      {ValueType::kScalar, ValueType::kScalar, ValueType::kVector}),
                   Args(Num(0), Num(4), Sel("h_bucket")));
  r = eng_.Instant(st_, *hf, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_NEAR(ValueOf(Vec(*r), {}), 2.0 / 3, 1e-12);
}

TEST_F(EngineTest, Limits) {
  for (int i = 0; i < 10; ++i) st_.Add({{"__name__", "m"}, {"i", std::to_string(i)}}, 0, i);
  EngineOptions o;
  o.max_samples = 5;
  Engine e(o);
  auto r = e.Instant(st_, *Sel("m"), 0);
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(r.status().IsResourceExhausted());
  std::atomic<bool> cancel{true};
  r = eng_.Instant(st_, *Sel("m"), 0, &cancel);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), common::Code::kCancelled);
}

// ---- through the parser --------------------------------------------------------------------

class ParsedTest : public EngineTest {
 protected:
  common::Result<QueryResult> Q(const std::string& q, int64_t t) {
    auto e = parser::ParseExpr(q);
    if (!e.ok()) return e.status();
    exprs_.push_back(std::move(*e));
    return eng_.Instant(st_, *exprs_.back(), t);
  }
  common::Result<QueryResult> R(const std::string& q, int64_t s, int64_t e, int64_t step) {
    auto x = parser::ParseExpr(q);
    if (!x.ok()) return x.status();
    exprs_.push_back(std::move(*x));
    return eng_.Range(st_, *exprs_.back(), s, e, step);
  }
  std::vector<ExprPtr> exprs_;
};

TEST_F(ParsedTest, SumOfRatesAndSorting) {
  for (int i = 0; i <= 10; ++i) {
    st_.Add({{"__name__", "req_total"}, {"job", "a"}, {"i", "0"}}, i * kMin, 60.0 * i);
    st_.Add({{"__name__", "req_total"}, {"job", "a"}, {"i", "1"}}, i * kMin, 120.0 * i);
    st_.Add({{"__name__", "req_total"}, {"job", "b"}, {"i", "0"}}, i * kMin, 30.0 * i);
  }
  auto r = Q("sort_desc(sum by (job) (rate(req_total[5m])))", 10 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(Vec(*r).size(), 2u);
  EXPECT_EQ(Vec(*r)[0].metric, Labels({{"job", "a"}}));
  EXPECT_NEAR(Vec(*r)[0].v, 3, 1e-9);  // 1/s + 2/s
  EXPECT_NEAR(Vec(*r)[1].v, 0.5, 1e-9);
  r = R("max_over_time(req_total{job=\"b\"}[10m:5m]) - req_total{job=\"b\"} offset 5m", 5 * kMin,
        10 * kMin, 5 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(Mtx(*r).size(), 1u);
  ASSERT_EQ(Mtx(*r)[0].points.size(), 2u);
  EXPECT_EQ(Mtx(*r)[0].points[0].v, 150);  // 150 - 0
  EXPECT_EQ(Mtx(*r)[0].points[1].v, 150);  // 300 - 150
  r = Q("req_total{job=\"a\"} / on(job) group_left req_total{job=\"a\"}", 0);
  ASSERT_FALSE(r.ok());  // duplicate series on the "one" side
}

// ---- start timestamps (OTel start time / created timestamp) ---------------------------------

TEST_F(ParsedTest, StartTimestampMarksCounterReset) {
  // The values never drop, but the start timestamp moves past the previous sample at 3m: the
  // counter restarted there (a reset that only the start timestamp shows).
  const int64_t kSec = 1000;
  Labels with_st{{"__name__", "c_total"}, {"st", "yes"}};
  Labels no_st{{"__name__", "c_total"}, {"st", "no"}};
  int64_t starts[] = {30 * kSec, 30 * kSec, 150 * kSec, 150 * kSec};
  for (int i = 0; i < 4; ++i) {
    st_.Add(with_st, (i + 1) * kMin, 10.0 * (i + 1), starts[i]);
    st_.Add(no_st, (i + 1) * kMin, 10.0 * (i + 1));
  }
  auto r = Q("increase(c_total[4m])", 4 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  // With start timestamps: 40 - 10 + 20 (reset at 3m) = 50, and the first sample's start (30s)
  // lies inside (0, 4m]: a zero sample is assumed there instead of extrapolating, so + 10 and
  // no extrapolation to the left; the last sample is at the range end.
  EXPECT_NEAR(ValueOf(Vec(*r), {{"st", "yes"}}), 60, 1e-9);
  // Without: unchanged, 30 extrapolated by (180 + 60) / 180 (zero point 60s away).
  EXPECT_NEAR(ValueOf(Vec(*r), {{"st", "no"}}), 40, 1e-9);
  r = Q("rate(c_total[4m])", 4 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(ValueOf(Vec(*r), {{"st", "yes"}}), 60.0 / 240, 1e-12);
  r = Q("resets(c_total[4m])", 4 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueOf(Vec(*r), {{"st", "yes"}}), 1);
  EXPECT_EQ(ValueOf(Vec(*r), {{"st", "no"}}), 0);
  // irate at 3m: the last pair is a reset, so the increase is the last value, 30 over 60s.
  r = Q("irate(c_total[4m])", 3 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(ValueOf(Vec(*r), {{"st", "yes"}}), 0.5, 1e-12);
  EXPECT_NEAR(ValueOf(Vec(*r), {{"st", "no"}}), 10.0 / 60, 1e-12);
  // idelta and delta do not look at start timestamps.
  r = Q("idelta(c_total[4m])", 3 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueOf(Vec(*r), {{"st", "yes"}}), 10);
  // Subqueries drop start timestamps: both series give the same result.
  r = Q("increase(c_total[4m:1m])", 4 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(ValueOf(Vec(*r), {{"st", "yes"}}), ValueOf(Vec(*r), {{"st", "no"}}), 1e-12);
  EXPECT_TRUE(r->annotations.warnings.empty());
}

TEST_F(ParsedTest, StartTimestampResetRules) {
  // Two samples, 5 at 1m and 5 at 2m, with start timestamps (prev, curr): is 2m a reset?
  struct Case {
    const char* name;
    int64_t prev_st, curr_st;
    double resets;
  };
  const int64_t kSec = 1000;
  const Case cases[] = {
      {"delta", 30 * kSec, 60 * kSec, 1},              // curr starts at prev's time, prev known
      {"unknown_prev", 0, 60 * kSec, 0},               // cumulative with an unknown start
      {"prev_st_at_t", 60 * kSec, 60 * kSec, 0},       // OTel's unknown start (ST == T)
      {"invalid_prev", 90 * kSec, 60 * kSec, 0},       // prev's start after prev: ignored
      {"after_prev", 30 * kSec, 61 * kSec, 1},         // started after prev
      {"before_prev", 30 * kSec, 59 * kSec, 0},        // still running (an overlap)
      {"curr_st_at_t", 30 * kSec, 120 * kSec, 0},      // ST == T: unknown
      {"curr_st_after_t", 30 * kSec, 121 * kSec, 0},   // ST > T: invalid
      {"curr_unknown", 30 * kSec, 0, 0},
  };
  for (const Case& c : cases) {
    Labels l{{"__name__", "x_total"}, {"case", c.name}};
    st_.Add(l, kMin, 5, c.prev_st);
    st_.Add(l, 2 * kMin, 5, c.curr_st);
  }
  auto r = Q("resets(x_total[2m])", 2 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  auto inc = Q("increase(x_total[1m1ms])", 2 * kMin);
  ASSERT_TRUE(inc.ok()) << inc.status().ToString();
  for (const Case& c : cases) {
    EXPECT_EQ(ValueOf(Vec(*r), {{"case", c.name}}), c.resets) << c.name;
    // A reset adds the 5 before it; the window (59.999s, 2m] starts 1ms before the first sample
    // and the counter's zero point is further, so the result is scaled by 60.001 / 60.
    EXPECT_NEAR(ValueOf(Vec(*inc), {{"case", c.name}}), c.resets * 5 * 60.001 / 60, 1e-9)
        << c.name;
  }
}

TEST_F(ParsedTest, StartTimestampZeroSampleAssumption) {
  const int64_t kSec = 1000;
  // A single sample whose start lies inside the range gives a value: the increase from zero.
  st_.Add({{"__name__", "one_total"}, {"st", "inside"}}, 4 * kMin, 3, 90 * kSec);
  st_.Add({{"__name__", "one_total"}, {"st", "at_start"}}, 4 * kMin, 3, 60 * kSec);
  st_.Add({{"__name__", "one_total"}, {"st", "none"}}, 4 * kMin, 3);
  auto r = Q("increase(one_total[5m])", 6 * kMin);  // range (1m, 6m]
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(Vec(*r).size(), 1u);  // the range start is exclusive: 60s is outside
  EXPECT_EQ(Vec(*r)[0].metric, Labels({{"st", "inside"}}));
  EXPECT_NEAR(Vec(*r)[0].v, 3, 1e-12);
  r = Q("rate(one_total[5m])", 6 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(ValueOf(Vec(*r), {{"st", "inside"}}), 3.0 / 300, 1e-12);
  // delta is not a counter function: one sample gives nothing.
  r = Q("delta(one_total[5m])", 6 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Vec(*r).empty());

  // Two samples, 2 at 3m and 3 at 4m, both started at 90s, evaluated at 6m over 5m: the start
  // replaces the left extrapolation (sampled interval 90s..4m = 150s, value 3 - 2 + 2 = 3); the
  // right side still extrapolates by half the 60s spacing (120s to the end > 1.1 * 60s).
  st_.Add({{"__name__", "two_total"}}, 3 * kMin, 2, 90 * kSec);
  st_.Add({{"__name__", "two_total"}}, 4 * kMin, 3, 90 * kSec);
  r = Q("increase(two_total[5m])", 6 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_NEAR(ValueOf(Vec(*r), {}), 3 * (150.0 + 30) / 150, 1e-9);
}

TEST_F(ParsedTest, StartTimestampOverlapWarning) {
  const int64_t kSec = 1000;
  // 60, 120, 180 at 2m, 3m, 4m. The start at 3m (90s) reaches back before the 2m sample and is
  // not that sample's start (60s): the samples' intervals overlap.
  st_.Add({{"__name__", "o_total"}}, 2 * kMin, 60, 60 * kSec);
  st_.Add({{"__name__", "o_total"}}, 3 * kMin, 120, 90 * kSec);
  st_.Add({{"__name__", "o_total"}}, 4 * kMin, 180, 90 * kSec);
  auto r = Q("rate(o_total[3m])", 4 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(r->annotations.warnings.size(), 1u);
  EXPECT_EQ(r->annotations.warnings[0],
            "PromQL warning: sample has start time that overlaps with previous sample timestamp "
            "for metric \"o_total\" (1:6)");
  // A cumulative series (same start throughout) and a delta one (start = previous time) do not.
  st_.Add({{"__name__", "ok_total"}, {"k", "cum"}}, 2 * kMin, 60, 90 * kSec);
  st_.Add({{"__name__", "ok_total"}, {"k", "cum"}}, 3 * kMin, 120, 90 * kSec);
  st_.Add({{"__name__", "ok_total"}, {"k", "delta"}}, 2 * kMin, 60, kMin);
  st_.Add({{"__name__", "ok_total"}, {"k", "delta"}}, 3 * kMin, 60, 2 * kMin);
  r = Q("increase(ok_total[3m])", 3 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->annotations.warnings.empty());
  // delta: 60 - 60 + 60 (reset) + 60 (zero sample at the first start, 1m, inside (0, 3m]).
  EXPECT_NEAR(ValueOf(Vec(*r), {{"k", "delta"}}), 120, 1e-9);
}

TEST_F(ParsedTest, StartTimestampsWithStalenessAndRangeQueries) {
  const int64_t kSec = 1000;
  // A staleness marker between two samples: the start timestamps stay aligned with the live
  // samples (10 at 1m started at 30s; 20 at 3m started at 150s, after 1m: a reset).
  Labels l{{"__name__", "s_total"}};
  st_.Add(l, kMin, 10, 30 * kSec);
  st_.Add(l, 2 * kMin, storage::StaleNaN(), 0);
  st_.Add(l, 3 * kMin, 20, 150 * kSec);
  auto r = Q("resets(s_total[5m])", 3 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(ValueOf(Vec(*r), {}), 1);
  // A range query (the functions' values are computed for every step at once) agrees with
  // instant queries at each step.
  auto rr = R("increase(s_total[5m])", 3 * kMin, 6 * kMin, kMin);
  ASSERT_TRUE(rr.ok()) << rr.status().ToString();
  ASSERT_EQ(Mtx(*rr).size(), 1u);
  // At 6m only the 3m sample is left, but its start (150s) is inside (1m, 6m]: it has a value.
  ASSERT_EQ(Mtx(*rr)[0].points.size(), 4u);
  EXPECT_NEAR(Mtx(*rr)[0].points[3].v, 20, 1e-9);
  for (const FPoint& p : Mtx(*rr)[0].points) {
    auto q = Q("increase(s_total[5m])", p.t);
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    ASSERT_EQ(Vec(*q).size(), 1u) << p.t;
    EXPECT_EQ(Vec(*q)[0].v, p.v) << p.t;
  }
  // At 3m: 20 - 10 + 10 (reset) + 10 (zero sample at 30s) = 30 over 30s..3m, extrapolated to
  // the right by nothing (the last sample is at the end).
  EXPECT_NEAR(Mtx(*rr)[0].points[0].v, 30, 1e-9);
}

TEST_F(ParsedTest, StartTimestampFunction) {
  const int64_t kSec = 1000;
  st_.Add({{"__name__", "m"}, {"a", "1"}}, kMin, 1, 50 * kSec);
  st_.Add({{"__name__", "m"}, {"a", "1"}}, 2 * kMin, 2, 50 * kSec);
  st_.Add({{"__name__", "m"}, {"a", "2"}}, kMin, 1);  // none: 0
  auto r = Q("start_timestamp(m)", 3 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(Vec(*r).size(), 2u);
  EXPECT_EQ(ValueOf(Vec(*r), {{"a", "1"}}), 50);  // the name is dropped
  EXPECT_EQ(ValueOf(Vec(*r), {{"a", "2"}}), 0);
  r = Q("start_timestamp((m))", 3 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(Vec(*r).size(), 2u);
  // An expression's samples carry no start timestamps.
  r = Q("start_timestamp(m * 1)", 3 * kMin);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(Vec(*r).empty());
}

}  // namespace
}  // namespace collector::promql
