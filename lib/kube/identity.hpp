// Who the API server says the caller is.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "kube/client.hpp"

namespace wb::kube {

// The authenticated user as the server sees it (SelfSubjectReview's status.userInfo).
struct UserInfo {
  std::string username;
  std::vector<std::string> groups;  // as the server lists them, system:authenticated included
};

// Asks the server (SelfSubjectReview, authentication.k8s.io v1, else v1beta1). No value when the
// server is too old to say (before Kubernetes 1.27: no such API); errors as the server gave them
// (an expired token is ErrorCode::Auth).
Result<std::optional<UserInfo>> who_am_i(Client& client);

}  // namespace wb::kube
