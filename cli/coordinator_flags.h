// The flags every command that talks to a coordinator shares (address, token, TLS), and the
// token's one source: a file or the ISTAR_TOKEN environment variable, never the command line
// (a command line is visible to every user of the machine in `ps`).
#ifndef ISTAR_CLI_COORDINATOR_FLAGS_H_
#define ISTAR_CLI_COORDINATOR_FLAGS_H_

#include <string>

#include "absl/status/statusor.h"
#include "cli/token.h"
#include "coordinator/client.h"

namespace CLI {
class App;
}  // namespace CLI

namespace istar::cli {

// The environment variable read when --coordinator is not given.
inline constexpr char kCoordinatorVariable[] = "ISTAR_COORDINATOR";

struct ConnectionFlags {
  std::string address;       // --coordinator, else --coordinator-file, else $ISTAR_COORDINATOR
  std::string address_file;  // --coordinator-file: its first line is the address
  std::string token_file;  // --token-file, else $ISTAR_TOKEN holds the token itself
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_server_name;
  int64_t timeout_seconds = 10;
};

// Adds --coordinator, --coordinator-file, --token-file, --tls-ca, --tls-cert, --tls-key,
// --tls-server-name and --timeout to `command`.
void AddConnectionFlags(CLI::App& command, ConnectionFlags& flags);

// A connected client from the flags. InvalidArgument when no address is given; NotFound when
// --coordinator-file cannot be read or is empty.
[[nodiscard]] absl::StatusOr<std::unique_ptr<coordinator::CoordinatorClient>> ConnectFromFlags(
    const ConnectionFlags& flags);

}  // namespace istar::cli

#endif  // ISTAR_CLI_COORDINATOR_FLAGS_H_
