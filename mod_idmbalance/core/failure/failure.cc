#include "idmb/failure.h"

#include <array>

namespace idmb::failure {

using forward::Outcome;
using table::ErrorClass;

ErrorClass error_class(Outcome outcome) {
  switch (outcome) {
    case Outcome::ConnectFailed: return ErrorClass::Connect;
    case Outcome::CpingFailed: return ErrorClass::Cping;
    case Outcome::BackendClosed: return ErrorClass::BackendClosed;
    case Outcome::BackendTimeout: return ErrorClass::Timeout;
    case Outcome::ProtocolError: return ErrorClass::Protocol;
    case Outcome::InvalidResponse: return ErrorClass::Response;
    case Outcome::FailOnStatus:
    case Outcome::Stopping: return ErrorClass::FailStatus;
    case Outcome::RetryOnStatus:  // fails over, counted nowhere: -CODE does not blame the member
    case Outcome::Ok:
    case Outcome::LocalFailure:  // counted with client faults: not the member's
    case Outcome::ClientBodyError:
    case Outcome::ClientAborted:
    case Outcome::RequestTooLarge:
    case Outcome::ClientBodyTooLarge:
    case Outcome::NewSessionRefused:  // not a fault at all, counted nowhere (see the handler)
      break;
  }
  return ErrorClass::Client;
}

bool blames_member(Outcome outcome) {
  if (outcome == Outcome::Ok) return false;
  const ErrorClass c = error_class(outcome);
  return c != ErrorClass::Client && c != ErrorClass::Response;
}

bool looks_like_secret_refusal(const forward::Result& result) {
  return result.outcome == Outcome::Ok && result.status == 403 && !result.reuse_connection;
}

bool is_idempotent(std::string_view method) {
  static constexpr std::array<std::string_view, 6> kIdempotent{"GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"};
  for (auto m : kIdempotent) {
    if (m == method) {
      return true;
    }
  }
  return false;
}

bool replayable(std::string_view method, bool has_body) { return is_idempotent(method) && !has_body; }

bool may_retry(const forward::Result& result, std::string_view method) {
  // Refused only where replayable() said the request may go elsewhere.
  if (result.outcome == forward::Outcome::NewSessionRefused) {
    return true;
  }
  // -CODE of IdmFailOnStatus: retried under the same rules as a fault, without the blame.
  const bool retry_status = result.outcome == forward::Outcome::RetryOnStatus;
  if ((!blames_member(result.outcome) && !retry_status) || result.response_started) {
    return false;
  }
  // A request that outlived the reply timeout would most likely do so again elsewhere:
  // retrying it doubles the client's wait and the load it causes.
  if (result.outcome == forward::Outcome::BackendTimeout) {
    return false;
  }
  if (!result.request_sent) {
    return true;
  }
  return is_idempotent(method) && !result.body_consumed;
}

}  // namespace idmb::failure
