// Errors a user can cause travel as values: Result<T> holds either a T or an Error.
// Bugs throw; everything a user, a server or the network can cause is an Error.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <variant>

namespace wb::util {

// What went wrong, in the terms the exit status reports (see man/wb.1, `wb help exit-codes`).
enum class ErrorCode {
  Failure = 1,       // anything else
  Usage = 2,         // bad flags, arguments, or input files
  NotFound = 3,      // the named thing does not exist
  Auth = 4,          // not authenticated, or forbidden
  Conflict = 5,      // exists already, or changed under us
  Timeout = 6,       // did not become ready / answer in time
  Unavailable = 7,   // network or server unavailable
  Interrupted = 130  // Ctrl-C
};

// The exit status a process reports for an error code.
int exit_status(ErrorCode code);
// A short stable name ("not-found") used in JSON error output.
const char* error_code_name(ErrorCode code);

// Facts behind an error, for code to branch on and for the CLI to put into words where it prints
// the error. Each module defines its own kinds (kube::Forbidden, workbench::Crashing, ...) as
// structs deriving from this; code asks `error.detail<kube::Forbidden>()`, never the message text.
struct ErrorDetail {
  virtual ~ErrorDetail() = default;
};

struct Error {
  ErrorCode code = ErrorCode::Failure;
  std::string message;   // one line, in the user's words (or the facts in one line, where `detail` has them)
  std::string hint;      // the next step, if there is one ("run `wb app create orders` first")
  int http_status = 0;   // the HTTP status behind it, if any
  std::shared_ptr<const ErrorDetail> facts;  // what code may branch on; null for plain errors

  Error() = default;
  Error(ErrorCode c, std::string msg, std::string h = {}, int status = 0)
      : code(c), message(std::move(msg)), hint(std::move(h)), http_status(status) {}

  // Returns a copy whose message is prefixed with `context: `.
  Error with_context(const std::string& context) const;

  // The facts of kind D, or null when the error carries none of that kind.
  template <class D>
  const D* detail() const {
    return dynamic_cast<const D*>(facts.get());
  }
  // Attaches facts (replacing any); returns *this for chaining.
  template <class D>
  Error& with(D d) & {
    facts = std::make_shared<const D>(std::move(d));
    return *this;
  }
  template <class D>
  Error&& with(D d) && {
    facts = std::make_shared<const D>(std::move(d));
    return std::move(*this);
  }
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : v_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }

  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const& { return std::get<1>(v_); }
  Error&& error() && { return std::get<1>(std::move(v_)); }

  T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const& { return error_; }
  Error&& error() && { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

}  // namespace wb::util

// Evaluates a Result-returning expression; on error returns the error from the enclosing function.
#define WB_TRY(expr)                                   \
  do {                                                 \
    auto&& wb_try_r_ = (expr);                         \
    if (!wb_try_r_.ok()) return std::move(wb_try_r_).error(); \
  } while (0)

#define WB_CONCAT_INNER_(a, b) a##b
#define WB_CONCAT_(a, b) WB_CONCAT_INNER_(a, b)
// Declares `lhs` from the value of a Result, or returns its error from the enclosing function.
#define WB_ASSIGN_OR_RETURN(lhs, expr) WB_ASSIGN_OR_RETURN_IMPL_(WB_CONCAT_(wb_r_, __LINE__), lhs, expr)
#define WB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                              \
  if (!tmp.ok()) return std::move(tmp).error();   \
  lhs = std::move(tmp).value()
