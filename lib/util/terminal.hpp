// The local terminal for interactive sessions (wb shell): its window size, raw mode that is undone
// on every way out, and a descriptor that becomes readable when the window is resized (SIGWINCH).
// Nothing here reads or writes the terminal's data; the caller does.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace wb::util {

struct TerminalSize {
  uint16_t width = 0;   // columns
  uint16_t height = 0;  // rows
  bool operator==(const TerminalSize&) const = default;
};

// The window size of the terminal `fd` refers to; nullopt when it is not a terminal or tells none.
std::optional<TerminalSize> terminal_size(int fd);

// Raw mode on a terminal (no echo, no line editing, no signals from keys: Ctrl-C and Ctrl-\ are
// bytes to pass on) for as long as it lives. The settings found are put back when it is destroyed,
// and also when the process dies of SIGHUP, SIGQUIT, SIGABRT, SIGSEGV, SIGBUS or SIGFPE while it
// lives (the signal is then raised again with its default action). One at a time per process.
class RawTerminal {
 public:
  // Failure when `fd` is not a terminal or its settings cannot be changed.
  static Result<std::unique_ptr<RawTerminal>> enter(int fd);
  ~RawTerminal();
  RawTerminal(const RawTerminal&) = delete;
  RawTerminal& operator=(const RawTerminal&) = delete;

 private:
  RawTerminal() = default;
};

// Notices window resizes (SIGWINCH) while it lives: fd() becomes readable after each; clear()
// empties it. The previous SIGWINCH disposition is put back when it is destroyed. One at a time.
class ResizeSignal {
 public:
  static Result<std::unique_ptr<ResizeSignal>> watch();
  ~ResizeSignal();
  ResizeSignal(const ResizeSignal&) = delete;
  ResizeSignal& operator=(const ResizeSignal&) = delete;

  int fd() const { return pipe_.read.get(); }
  // Empties the descriptor: true when a resize happened since the last clear().
  bool clear();

 private:
  ResizeSignal() = default;
  Pipe pipe_;
};

}  // namespace wb::util
