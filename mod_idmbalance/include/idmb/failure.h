// What a failed attempt means: which error class it counts as, whether the member is to blame,
// and whether the request may be tried again on another member.
#pragma once

#include <string_view>

#include "idmb/forwarder.h"
#include "idmb/worker_table_layout.h"

namespace idmb::failure {

// The class an outcome is counted under (Client for client faults).
table::ErrorClass error_class(forward::Outcome outcome);

// True for faults that show the member is broken or unreachable (connect, CPING, closed, reply
// timeout, invalid AJP). Client faults (framing errors, aborts) and refused responses (one
// request's response, as the application made it) never count against a member and are never
// retried elsewhere: another member would answer the same.
bool blames_member(forward::Outcome outcome);

// A complete answer that looks like Tomcat refusing the AJP secret: 403 and the connection
// closed (an application's 403 keeps the connection). See health::note_secret_refusal.
bool looks_like_secret_refusal(const forward::Result& result);

// Methods whose repetition has the same effect as one execution (RFC 9110 9.2.2).
bool is_idempotent(std::string_view method);

// A request that may be run on a second member even after the first one ran it: an idempotent
// method without a body. A disabled member's new-session answer to one is refused (see
// ExchangeOptions::refuse_new_session) and the request goes to an active member instead.
bool replayable(std::string_view method, bool has_body);

// May this request be sent to another member after `result`? Only if nothing reached Tomcat,
// or the method is idempotent, no body byte was consumed and no response byte reached the
// client. Never after a client fault or a reply timeout. Always after NewSessionRefused.
// IdmFailOnStatus answers (FailOnStatus, RetryOnStatus) follow the rule for a sent request.
bool may_retry(const forward::Result& result, std::string_view method);

}  // namespace idmb::failure
