#include "util/result.hpp"

namespace wb::util {

int exit_status(ErrorCode code) { return static_cast<int>(code); }

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::Failure: return "failure";
    case ErrorCode::Usage: return "usage";
    case ErrorCode::NotFound: return "not-found";
    case ErrorCode::Auth: return "forbidden";
    case ErrorCode::Conflict: return "conflict";
    case ErrorCode::Timeout: return "timeout";
    case ErrorCode::Unavailable: return "unavailable";
    case ErrorCode::Interrupted: return "interrupted";
  }
  return "failure";
}

Error Error::with_context(const std::string& context) const {
  Error e = *this;
  e.message = context + ": " + message;
  return e;
}

}  // namespace wb::util
