#pragma once
// Status and Result<T>: errors as values (STYLE.md section 3, after leveldb's Status).
//
// An OK Status holds a null pointer and does not allocate. A failed Status owns a code and a
// message. Test the code with the Is*() predicates, never by matching message text.
// Thread affinity: none; a Status is a value and may be moved across threads.

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace common {

enum class Code : int {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kOutOfOrder,
  kOutOfBounds,
  kResourceExhausted,
  kUnavailable,
  kDeadlineExceeded,
  kCancelled,
  kCorruption,
  kIOError,
  kInternal,
};

std::string_view CodeName(Code c);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string_view msg);
  Status(const Status& o) : rep_(o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr) {}
  Status& operator=(const Status& o) {
    rep_ = o.rep_ ? std::make_unique<Rep>(*o.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string_view m) { return Status(Code::kInvalidArgument, m); }
  static Status NotFound(std::string_view m) { return Status(Code::kNotFound, m); }
  static Status ResourceExhausted(std::string_view m) {
    return Status(Code::kResourceExhausted, m);
  }
  static Status Unavailable(std::string_view m) { return Status(Code::kUnavailable, m); }
  static Status DeadlineExceeded(std::string_view m) {
    return Status(Code::kDeadlineExceeded, m);
  }
  static Status Corruption(std::string_view m) { return Status(Code::kCorruption, m); }
  static Status IOError(std::string_view m) { return Status(Code::kIOError, m); }
  static Status Internal(std::string_view m) { return Status(Code::kInternal, m); }
  // IOError from an errno value, as "context: strerror(err)". ENOENT maps to NotFound.
  static Status FromErrno(int err, std::string_view context);

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::kOk; }
  bool IsNotFound() const { return code() == Code::kNotFound; }
  bool IsInvalidArgument() const { return code() == Code::kInvalidArgument; }
  bool IsDeadlineExceeded() const { return code() == Code::kDeadlineExceeded; }
  bool IsIOError() const { return code() == Code::kIOError; }
  bool IsCorruption() const { return code() == Code::kCorruption; }
  bool IsResourceExhausted() const { return code() == Code::kResourceExhausted; }
  // The message without the code; empty when OK.
  std::string_view message() const { return rep_ ? std::string_view(rep_->msg) : ""; }
  // "OK" or "<code name>: <message>".
  std::string ToString() const;
  // Returns a copy whose message is "context: message"; OK stays OK.
  Status Annotate(std::string_view context) const;

 private:
  struct Rep {
    Code code;
    std::string msg;
  };
  std::unique_ptr<Rep> rep_;
};

// Result<T> holds either a value or a failed Status (std::expected is C++23).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status s) : v_(std::move(s)) {}     // NOLINT: must not be OK
  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace common

#define LOOKOUT_RETURN_IF_ERROR(expr)           \
  do {                                          \
    ::common::Status _st = (expr);              \
    if (!_st.ok()) return _st;                  \
  } while (0)
