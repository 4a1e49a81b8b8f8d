// Process-wide cancellation: SIGINT sets a flag that long operations poll.
#pragma once

namespace wb::util {

// Installs SIGINT/SIGTERM handlers that set the interrupted flag (idempotent).
void install_interrupt_handler();
// True once the user pressed Ctrl-C (or the process got SIGTERM).
bool interrupted();
// For tests: sets or clears the flag.
void set_interrupted(bool value);

}  // namespace wb::util
