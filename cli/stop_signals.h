// SIGTERM and SIGINT for the commands that serve until they are told to stop (`istar
// coordinator`, `istar dashboard`).
#ifndef ISTAR_CLI_STOP_SIGNALS_H_
#define ISTAR_CLI_STOP_SIGNALS_H_

#include <signal.h>

#include <string_view>

namespace istar::cli {

// Note [Stop signals]: SIGTERM and SIGINT are blocked before a server starts its threads (which
// inherit the mask), and the main thread waits for them with sigwait: no handler runs in a
// server's thread, and the shutdown happens in ordinary code. They stay blocked afterwards, so a
// second Ctrl-C during the shutdown does not cut it short.
//
//   StopSignals stop;        // before the server starts its threads
//   ... start the server ...
//   std::cerr << stop.Wait() << ", stopping\n";
class StopSignals {
 public:
  // Blocks SIGTERM and SIGINT on the calling thread and on the threads it starts from now on.
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

  // Waits until one of them arrives; returns its name, "SIGTERM" or "SIGINT".
  std::string_view Wait();

 private:
  sigset_t signals_;
};

}  // namespace istar::cli

#endif  // ISTAR_CLI_STOP_SIGNALS_H_
