// File: base/listen_address.h
// -----------------------------------------------------------------------------
// The "host:port" addresses istar's servers listen on (the coordinator, the dashboard) and the
// rule they share: a loopback host needs nothing more, any other needs a token and TLS.
//
// Example:
//
//   if (!IsLoopbackHost(HostOfAddress("0.0.0.0:8080"))) { ... require a token ... }
//   AdvertisedHost("0.0.0.0")  // "node17": what another machine dials
#ifndef ISTAR_BASE_LISTEN_ADDRESS_H_
#define ISTAR_BASE_LISTEN_ADDRESS_H_

#include <string>

namespace istar {

// The host of "host:port" or "[v6]:port", without brackets; the whole text when it has no ":".
std::string HostOfAddress(const std::string& address);

// Whether `host` is this machine's loopback: "localhost", "::1" or 127.*.
bool IsLoopbackHost(const std::string& host);

// What clients on other machines dial for `host`: a wildcard (0.0.0.0, ::, empty: every
// interface) becomes this machine's name (the wildcard itself when the name is unknown).
std::string AdvertisedHost(const std::string& host);

}  // namespace istar

#endif  // ISTAR_BASE_LISTEN_ADDRESS_H_
