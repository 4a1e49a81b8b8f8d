// Process-wide cancellation: Ctrl-C (SIGINT) or SIGTERM requests a stop that long operations
// see, either by asking interrupted() or, to wake at once from a wait, through interrupt_token().
#pragma once

#include <stop_token>

namespace wb::util {

// Installs SIGINT/SIGTERM handlers that request the interrupt stop (idempotent), and ignores SIGPIPE.
void install_interrupt_handler();
// True once the user pressed Ctrl-C (or the process got SIGTERM).
bool interrupted();
// Requested on Ctrl-C / SIGTERM: pass it to util::sleep_for, BytePipe, ProcessSpec::stop, ...
std::stop_token interrupt_token();
// For tests: requests the interrupt stop, or (false) starts over with a new one; tokens taken
// before keep what they saw.
void set_interrupted(bool value);

}  // namespace wb::util
