// Bearer-token checks and TLS credentials from PEM files, for the server and the client.
#ifndef ISTAR_COORDINATOR_INTERNAL_AUTH_H_
#define ISTAR_COORDINATOR_INTERNAL_AUTH_H_

#include <grpcpp/security/credentials.h>
#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server_context.h>

#include <array>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/client.h"
#include "coordinator/coordinator.h"

namespace istar::coordinator::internal {

// The metadata key and prefix of the bearer token.
inline constexpr char kAuthorizationKey[] = "authorization";
inline constexpr char kBearerPrefix[] = "Bearer ";

// Tells whether a call carries the expected token.
// Note [Constant-time token check]: the presented and the expected token are both hashed with
// SHA-256 and the digests compared with CRYPTO_memcmp, so the time taken depends on neither the
// token's length nor the position of the first wrong character.
class TokenChecker {
 public:
  explicit TokenChecker(const std::string& token);
  // OK, or Unauthenticated ("missing bearer token" / "wrong bearer token").
  [[nodiscard]] absl::Status Check(const grpc::ServerContext& context) const;

 private:
  std::array<unsigned char, 32> expected_{};
};

// The server's credentials: plaintext when tls is all empty, TLS with cert/key, mutual TLS with
// a client CA too. InvalidArgument for half-given settings; NotFound for unreadable files.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(
    const ServerTls& tls);

// The client's channel credentials, likewise.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const ClientTls& tls);

// The contents of a file; NotFound naming it when it cannot be read.
[[nodiscard]] absl::StatusOr<std::string> ReadTextFile(const std::string& path, const char* what);

}  // namespace istar::coordinator::internal

#endif  // ISTAR_COORDINATOR_INTERNAL_AUTH_H_
