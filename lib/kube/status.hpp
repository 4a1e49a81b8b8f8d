// What the Kubernetes API says when it refuses: metav1.Status (or another body) -> Error, and the
// facts a refusal carries (who was refused what, where; what was not found) for code to branch on.
#pragma once

#include <string>

#include "util/result.hpp"

namespace wb::kube {

// A 403: `User "alice" cannot create resource "deployments" in API group "apps" in the namespace
// "shop-prod"` (RBAC), an RBAC escalation check ("attempting to grant RBAC permissions not
// currently held"), or a ValidatingAdmissionPolicy that denied the request.
struct Forbidden : util::ErrorDetail {
  enum class By { Rbac, Escalation, Admission, Other };
  By by = By::Other;
  std::string user;            // as the server names it ("alice", "system:serviceaccount:ns:ci"); "" if unsaid
  std::string verb;            // "create", "get", ...
  std::string resource;        // may carry a subresource: "pods/log"
  std::string group;           // "" for the core group
  std::string ns;              // "" at the cluster scope or when the message does not say
  bool cluster_scope = false;  // the message says "at the cluster scope"
  std::string policy;          // By::Admission: the policy's name
  std::string policy_message;  // By::Admission: what the policy said (after "denied request: ")
};

// A 404 with a Status naming what is missing.
struct Missing : util::ErrorDetail {
  std::string kind;  // the resource as the Status's details name it ("deployments")
  std::string group;
  std::string name;
};

// A log read with previous=true of a container that has not restarted (the API server's 400
// `previous terminated container "x" in pod "y" not found`).
struct NoPreviousLog : util::ErrorDetail {};

// Turns a non-2xx API answer (metav1.Status or not) into an Error with a user-facing message and
// the ErrorCode for its HTTP status (404 NotFound, 401/403 Auth, 409 Conflict, 5xx Unavailable...);
// a 403 carries Forbidden, a 404 with details carries Missing.
util::Error status_to_error(int http_status, const std::string& body);

// True when a write lost a race: another writer changed or created the object first (409), or the
// version it was based on is gone (410).
bool is_conflict(const util::Error& e);

// The facts of a 403's message (see Forbidden); By::Other with nothing else when it is none of those.
Forbidden parse_forbidden(const std::string& message);

}  // namespace wb::kube
