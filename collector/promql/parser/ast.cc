// Names and types of AST nodes (Prometheus' ast.go / lex.go item strings).

#include "collector/promql/parser/ast.h"

namespace collector::promql::parser {

std::string_view ValueTypeName(ValueType t) {
  switch (t) {
    case ValueType::kNone: return "none";
    case ValueType::kScalar: return "scalar";
    case ValueType::kVector: return "instant vector";
    case ValueType::kMatrix: return "range vector";
    case ValueType::kString: return "string";
  }
  return "none";
}

std::string_view BinOpName(BinOp op) {
  switch (op) {
    case BinOp::kAdd: return "+";
    case BinOp::kSub: return "-";
    case BinOp::kMul: return "*";
    case BinOp::kDiv: return "/";
    case BinOp::kMod: return "%";
    case BinOp::kPow: return "^";
    case BinOp::kAtan2: return "atan2";
    case BinOp::kEql: return "==";
    case BinOp::kNeq: return "!=";
    case BinOp::kGtr: return ">";
    case BinOp::kLss: return "<";
    case BinOp::kGte: return ">=";
    case BinOp::kLte: return "<=";
    case BinOp::kLand: return "and";
    case BinOp::kLor: return "or";
    case BinOp::kLunless: return "unless";
    case BinOp::kTrimUpper: return "</";
    case BinOp::kTrimLower: return ">/";
  }
  return "?";
}

bool IsComparison(BinOp op) {
  switch (op) {
    case BinOp::kEql:
    case BinOp::kNeq:
    case BinOp::kGtr:
    case BinOp::kLss:
    case BinOp::kGte:
    case BinOp::kLte:
      return true;
    default:
      return false;
  }
}

bool IsSetOperator(BinOp op) {
  return op == BinOp::kLand || op == BinOp::kLor || op == BinOp::kLunless;
}

std::string_view AggOpName(AggOp op) {
  switch (op) {
    case AggOp::kSum: return "sum";
    case AggOp::kAvg: return "avg";
    case AggOp::kCount: return "count";
    case AggOp::kMin: return "min";
    case AggOp::kMax: return "max";
    case AggOp::kGroup: return "group";
    case AggOp::kStddev: return "stddev";
    case AggOp::kStdvar: return "stdvar";
    case AggOp::kTopK: return "topk";
    case AggOp::kBottomK: return "bottomk";
    case AggOp::kCountValues: return "count_values";
    case AggOp::kQuantile: return "quantile";
    case AggOp::kLimitK: return "limitk";
    case AggOp::kLimitRatio: return "limit_ratio";
  }
  return "?";
}

bool AggOpTakesParam(AggOp op) {
  switch (op) {
    case AggOp::kTopK:
    case AggOp::kBottomK:
    case AggOp::kCountValues:
    case AggOp::kQuantile:
    case AggOp::kLimitK:
    case AggOp::kLimitRatio:
      return true;
    default:
      return false;
  }
}

ValueType Expr::Type() const {
  switch (kind) {
    case Kind::kNumberLiteral: return ValueType::kScalar;
    case Kind::kStringLiteral: return ValueType::kString;
    case Kind::kVectorSelector: return ValueType::kVector;
    case Kind::kMatrixSelector: return ValueType::kMatrix;
    case Kind::kSubquery: return ValueType::kMatrix;
    case Kind::kAggregate: return ValueType::kVector;
    case Kind::kDuration: return ValueType::kScalar;
    case Kind::kBinary: {
      auto* b = static_cast<const BinaryExpr*>(this);
      if (b->lhs && b->rhs && b->lhs->Type() == ValueType::kScalar &&
          b->rhs->Type() == ValueType::kScalar) {
        return ValueType::kScalar;
      }
      return ValueType::kVector;
    }
    case Kind::kUnary: {
      auto* u = static_cast<const UnaryExpr*>(this);
      return u->expr ? u->expr->Type() : ValueType::kNone;
    }
    case Kind::kParen: {
      auto* p = static_cast<const ParenExpr*>(this);
      return p->expr ? p->expr->Type() : ValueType::kNone;
    }
    case Kind::kCall: {
      auto* c = static_cast<const Call*>(this);
      return c->func ? c->func->return_type : ValueType::kNone;
    }
  }
  return ValueType::kNone;
}

}  // namespace collector::promql::parser
