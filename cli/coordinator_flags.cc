#include "cli/coordinator_flags.h"

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdlib>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"

namespace istar::cli {

void AddConnectionFlags(CLI::App& command, ConnectionFlags& flags) {
  command.add_option("--coordinator", flags.address,
                     absl::StrCat("Coordinator address host:port (default: $",
                                  kCoordinatorVariable, ")"));
  command
      .add_option("--coordinator-file", flags.address_file,
                  "File whose first line is the coordinator's address, as `istar coordinator "
                  "--address-file` writes it (a batch job's way to find it)")
      ->excludes(command.get_option("--coordinator"));
  command.add_option("--token-file", flags.token_file,
                     absl::StrCat("File holding the coordinator's bearer token (default: the "
                                  "token in $",
                                  kTokenVariable, ")"));
  command.add_option("--tls-ca", flags.tls_ca, "CA certificate (PEM) to verify the coordinator; "
                                               "without it the connection is plaintext");
  command.add_option("--tls-cert", flags.tls_cert, "Client certificate (PEM), for mutual TLS");
  command.add_option("--tls-key", flags.tls_key, "Client private key (PEM), for mutual TLS");
  command.add_option("--tls-server-name", flags.tls_server_name,
                     "Name expected in the coordinator's certificate, if not the address's host");
  command.add_option("--timeout", flags.timeout_seconds, "Deadline of each call, in seconds")
      ->default_val(10)
      ->check(CLI::Range(int64_t{1}, int64_t{3600}));
}

absl::StatusOr<std::unique_ptr<coordinator::CoordinatorClient>> ConnectFromFlags(
    const ConnectionFlags& flags) {
  std::string address = flags.address;
  if (address.empty() && !flags.address_file.empty()) {
    std::ifstream in(flags.address_file);
    const bool readable = static_cast<bool>(in);
    std::getline(in, address);
    address = std::string(absl::StripAsciiWhitespace(address));
    if (address.empty()) {
      return absl::NotFoundError(absl::StrCat("--coordinator-file: ", flags.address_file,
                                              readable ? " is empty" : " cannot be read"));
    }
  }
  if (address.empty()) {
    const char* from_environment = std::getenv(kCoordinatorVariable);
    if (from_environment != nullptr) address = from_environment;
  }
  if (address.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no coordinator address: give --coordinator HOST:PORT or set ",
                     kCoordinatorVariable));
  }
  ISTAR_ASSIGN_OR_RETURN(std::string token, ReadToken(flags.token_file));
  return coordinator::CoordinatorClient::Connect(
      {.address = address,
       .token = std::move(token),
       .tls = {.ca_file = flags.tls_ca,
               .cert_file = flags.tls_cert,
               .key_file = flags.tls_key,
               .server_name = flags.tls_server_name},
       .deadline = std::chrono::seconds(flags.timeout_seconds)});
}

}  // namespace istar::cli
