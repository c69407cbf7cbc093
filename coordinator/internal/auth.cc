#include "coordinator/internal/auth.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <fstream>
#include <sstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"

namespace istar::coordinator::internal {
namespace {

std::array<unsigned char, 32> Sha256(std::string_view text) {
  std::array<unsigned char, 32> digest{};
  unsigned int length = 0;
  EVP_Digest(text.data(), text.size(), digest.data(), &length, EVP_sha256(), nullptr);
  return digest;
}

}  // namespace

TokenChecker::TokenChecker(const std::string& token) : expected_(Sha256(token)) {}

absl::Status TokenChecker::Check(const grpc::ServerContext& context) const {
  const auto& metadata = context.client_metadata();
  const auto found = metadata.find(kAuthorizationKey);
  if (found == metadata.end()) {
    return absl::UnauthenticatedError(
        "missing bearer token: send metadata \"authorization: Bearer <token>\"");
  }
  const std::string_view value(found->second.data(), found->second.size());
  const std::string_view prefix(kBearerPrefix);
  if (value.substr(0, prefix.size()) != prefix) {
    return absl::UnauthenticatedError("authorization metadata is not \"Bearer <token>\"");
  }
  const std::array<unsigned char, 32> presented = Sha256(value.substr(prefix.size()));
  if (CRYPTO_memcmp(presented.data(), expected_.data(), expected_.size()) != 0) {
    return absl::UnauthenticatedError("wrong bearer token");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadTextFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(what, ": cannot read ", path));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> ServerCredentials(const ServerTls& tls) {
  if (tls.cert_file.empty() && tls.key_file.empty() && tls.client_ca_file.empty()) {
    return grpc::InsecureServerCredentials();
  }
  if (tls.cert_file.empty() || tls.key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both a certificate file and a key file");
  }
  grpc::SslServerCredentialsOptions options;
  grpc::SslServerCredentialsOptions::PemKeyCertPair pair;
  ISTAR_ASSIGN_OR_RETURN(pair.cert_chain, ReadTextFile(tls.cert_file, "TLS certificate"));
  ISTAR_ASSIGN_OR_RETURN(pair.private_key, ReadTextFile(tls.key_file, "TLS key"));
  options.pem_key_cert_pairs.push_back(std::move(pair));
  if (!tls.client_ca_file.empty()) {
    ISTAR_ASSIGN_OR_RETURN(options.pem_root_certs,
                           ReadTextFile(tls.client_ca_file, "TLS client CA"));
    options.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
  }
  return grpc::SslServerCredentials(options);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentials(
    const ClientTls& tls) {
  if (tls.ca_file.empty()) {
    if (!tls.cert_file.empty() || !tls.key_file.empty()) {
      return absl::InvalidArgumentError("a TLS client certificate needs the server's CA file too");
    }
    return grpc::InsecureChannelCredentials();
  }
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("mutual TLS needs both a client certificate and its key");
  }
  grpc::SslCredentialsOptions options;
  ISTAR_ASSIGN_OR_RETURN(options.pem_root_certs, ReadTextFile(tls.ca_file, "TLS CA"));
  if (!tls.cert_file.empty()) {
    ISTAR_ASSIGN_OR_RETURN(options.pem_cert_chain,
                           ReadTextFile(tls.cert_file, "TLS client certificate"));
    ISTAR_ASSIGN_OR_RETURN(options.pem_private_key, ReadTextFile(tls.key_file, "TLS client key"));
  }
  return grpc::SslCredentials(options);
}

}  // namespace istar::coordinator::internal
