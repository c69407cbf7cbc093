// Conversions between istar's types (db/records.h) and the istar.v1 messages: the one place
// where the two meet (docs/architecture.md, "Conventions"), used by the server and the client
// alike.
#ifndef ISTAR_COORDINATOR_INTERNAL_PROTO_CONVERT_H_
#define ISTAR_COORDINATOR_INTERNAL_PROTO_CONVERT_H_

#include <grpcpp/support/status.h>

#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "coordinator/client.h"
#include "db/records.h"
#include "istar/v1/coordinator.pb.h"

namespace istar::coordinator::internal {

// absl's status codes are gRPC's, number for number. A message longer than 1 KiB is cut (Note
// [Status message length] in proto_convert.cc).
grpc::Status ToGrpc(const absl::Status& status);
absl::Status FromGrpc(const grpc::Status& status);

int64_t ToMillis(Timestamp time);
Timestamp FromMillis(int64_t millis);

v1::TrialState ToProto(db::TrialStatus status);
// nullopt for TRIAL_STATE_UNSPECIFIED and unknown values.
std::optional<db::TrialStatus> FromProto(v1::TrialState state);

void ToProto(const db::Lease& lease, v1::TrialLease* out);
db::Lease FromProto(const v1::TrialLease& lease);

void ToProto(const db::MetricRow& row, v1::Metric* out);
db::MetricRow FromProto(const std::string& trial_id, const v1::Metric& metric);
void ToProto(const db::IsotropyRow& row, v1::IsotropyMeasure* out);
db::IsotropyRow FromProto(const std::string& trial_id, const v1::IsotropyMeasure& measure);
void ToProto(const db::FinalResult& result, v1::FinalResult* out);
db::FinalResult FromProto(const v1::FinalResult& result);

// The answers a client reads. A state or regularizer this build does not know (a newer
// coordinator's) is FailedPrecondition naming it, never taken for another: Note [Unknown names
// on the wire].
absl::StatusOr<db::TrialStatus> KnownState(v1::TrialState state);
void ToProto(const db::TrialRecord& trial, v1::TrialSummary* out);
absl::StatusOr<db::TrialRecord> FromProto(const v1::TrialSummary& summary);
void ToProto(const db::SweepProgress& progress, v1::GetSweepResponse* out);
absl::StatusOr<db::SweepProgress> FromProto(const v1::GetSweepResponse& response);

absl::StatusOr<TrialEvent> FromProto(const v1::TrialEvent& event);

}  // namespace istar::coordinator::internal

#endif  // ISTAR_COORDINATOR_INTERNAL_PROTO_CONVERT_H_
