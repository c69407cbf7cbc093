#include "cli/stop_signals.h"

#include <pthread.h>

namespace istar::cli {

StopSignals::StopSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
}

std::string_view StopSignals::Wait() {
  int signal_number = 0;
  sigwait(&signals_, &signal_number);
  return signal_number == SIGTERM ? "SIGTERM" : "SIGINT";
}

}  // namespace istar::cli
