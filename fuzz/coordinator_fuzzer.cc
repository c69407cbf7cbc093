// A libFuzzer target for the coordinator's request handlers (coordinator/internal/service.cc): a
// real CoordinatorServer on loopback, over a SQLite file in a fresh temporary folder (/dev/shm
// where it exists), fed mutated serialized requests. Each request travels as raw bytes through
// grpc::GenericStub, so the server's own deserialization sees what the mutator made.
//
// Input: up to kMaxCalls records [selector][length: 2 bytes LE][payload] (a short last record
// takes what is left). (selector & 15) % 14 picks kMethods[k], or 13: advance the fake clock by
// the payload's first 4 bytes (LE, ms). selector >> 6 picks the credentials: 0 and 1 the token,
// 2 none, 3 a wrong one. ReportMetrics's payload is its messages, each [length: 2 bytes LE]
// [bytes] (the last takes what is left), sent raw on one stream. WatchSweep gets a 10 ms deadline
// (it ends only when every trial of its sweep has finished), the other calls 5 s. A SubmitSweep
// whose file expands to more than 64 trials is not sent (a million take minutes under ASan).
//
// Every input starts from the same state: a database made once by real calls (sweep "fuzz" of 4
// baseline trials, worker "fuzz-worker" registered, the first two trials leased to it with
// fencing token 1) and the fake clock at the same instant; see Reset() for how.
//
// Checked after every call: a request that parses as its method's type gets only the codes a
// handler returns (OK, InvalidArgument, NotFound, FailedPrecondition; Unauthenticated exactly
// when the token is missing or wrong; Unavailable, a full disk, cannot happen on a tmpfs with
// room), never Internal or Unknown (a store error or an exception leaking out) nor a missed
// deadline (a hang); an OK reply parses as the response type, and ReportMetrics stored every
// batch. A unary request that does not parse gets gRPC's Internal.
// After every input, the database rules of kInvariants; PRAGMA quick_check and
// foreign_key_check every 64 inputs.
//
// ISTAR_FUZZ_WRITE_SEEDS=DIR writes a seed for each path through the handlers into DIR and exits;
// ISTAR_FUZZ_VERBOSE=1 prints the status of every call (to read what an input does);
// ISTAR_FUZZ_RESTART_EVERY=N starts a new server every N inputs (default 500).
// Built and run by fuzz/run.sh.
#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iterator>
#include <memory>
#include <string>
#include <vector>

#include "base/clock.h"
#include "coordinator/coordinator.h"
#include "fuzz/coordinator_fuzzer_input.h"
#include "istar/v1/coordinator.pb.h"
#include "sweeps/sweep.h"

namespace istar::coordinator::fuzz {
namespace {

using std::chrono::milliseconds;

template <typename T>
bool Parses(const std::string& bytes) {
  T message;
  return message.ParseFromString(bytes);
}

enum class Kind { kUnary, kClientStream, kServerStream };

struct Method {
  const char* name;
  Kind kind;
  bool (*request_parses)(const std::string&);
  bool (*response_parses)(const std::string&);
};

// Indexed by the selector (MethodIndex in coordinator_fuzzer_input.h).
const Method kMethods[] = {
    {"RegisterWorker", Kind::kUnary, Parses<v1::RegisterWorkerRequest>,
     Parses<v1::RegisterWorkerResponse>},
    {"LeaseTrial", Kind::kUnary, Parses<v1::LeaseTrialRequest>, Parses<v1::LeaseTrialResponse>},
    {"Heartbeat", Kind::kUnary, Parses<v1::HeartbeatRequest>, Parses<v1::HeartbeatResponse>},
    {"ReportMetrics", Kind::kClientStream, Parses<v1::MetricBatch>,
     Parses<v1::ReportMetricsResponse>},
    {"CompleteTrial", Kind::kUnary, Parses<v1::CompleteTrialRequest>,
     Parses<v1::CompleteTrialResponse>},
    {"FailTrial", Kind::kUnary, Parses<v1::FailTrialRequest>, Parses<v1::FailTrialResponse>},
    {"SubmitSweep", Kind::kUnary, Parses<v1::SubmitSweepRequest>, Parses<v1::SubmitSweepResponse>},
    {"GetSweep", Kind::kUnary, Parses<v1::GetSweepRequest>, Parses<v1::GetSweepResponse>},
    {"ListTrials", Kind::kUnary, Parses<v1::ListTrialsRequest>, Parses<v1::ListTrialsResponse>},
    {"CancelSweep", Kind::kUnary, Parses<v1::CancelSweepRequest>, Parses<v1::CancelSweepResponse>},
    {"WatchSweep", Kind::kServerStream, Parses<v1::WatchSweepRequest>, Parses<v1::TrialEvent>},
    {"ListWorkers", Kind::kUnary, Parses<v1::ListWorkersRequest>, Parses<v1::ListWorkersResponse>},
    {"ReleaseWorker", Kind::kUnary, Parses<v1::ReleaseWorkerRequest>,
     Parses<v1::ReleaseWorkerResponse>},
};
static_assert(std::size(kMethods) == kAdvanceClock);

// Each counts the rows that break a rule the store keeps by design (db/internal/leases.cc,
// submit.cc, docs/database.md); each must be 0. max_attempts is 3 and quarantine_after 3.
const char* const kInvariants[] = {
    // A leased trial holds a lease, and exactly one running attempt: its lease's.
    "SELECT count(*) FROM trials AS t WHERE status = 'leased' AND (lease_id IS NULL OR "
    "lease_expires_at IS NULL OR worker_id IS NULL OR (SELECT count(*) FROM attempts AS a WHERE "
    "a.trial_id = t.id AND a.outcome = 'running' AND a.fencing_token = t.fencing_token AND "
    "a.lease_id = t.lease_id) <> 1)",
    // No other attempt runs: the coordinator never makes a trial 'running' (`istar train` does).
    "SELECT count(*) FROM attempts AS a JOIN trials AS t ON t.id = a.trial_id "
    "WHERE a.outcome = 'running' AND t.status <> 'leased'",
    "SELECT count(*) FROM trials WHERE status = 'running'",
    // A lease ends with its attempt.
    "SELECT count(*) FROM trials WHERE status <> 'leased' AND "
    "(lease_id IS NOT NULL OR lease_expires_at IS NOT NULL)",
    // attempts counts the attempt rows but those a requeue gave back; rows are numbered 1..n;
    // each lease raised the fencing token by one and started one attempt.
    "SELECT count(*) FROM trials AS t WHERE attempts <> (SELECT count(*) FROM attempts "
    "WHERE trial_id = t.id AND outcome <> 'abandoned') OR (SELECT count(*) FROM attempts WHERE "
    "trial_id = t.id) <> (SELECT coalesce(max(attempt), 0) FROM attempts WHERE trial_id = t.id) "
    "OR fencing_token <> (SELECT count(*) FROM attempts WHERE trial_id = t.id AND lease_id IS NOT "
    "NULL)",
    // A trial runs at most max_attempts times; one that used them all is not queued again.
    "SELECT count(*) FROM trials WHERE attempts > 3 OR (status = 'pending' AND attempts >= 3)",
    // finished_at is set exactly for done and failed trials; final results come with done.
    "SELECT count(*) FROM trials WHERE (status IN ('done', 'failed')) <> (finished_at IS NOT NULL)",
    "SELECT count(*) FROM final_results AS r JOIN trials AS t ON t.id = r.trial_id "
    "WHERE t.status <> 'done'",
    // Rows are written under a lease only.
    "SELECT (SELECT count(*) FROM metrics AS m WHERE NOT EXISTS (SELECT 1 FROM attempts AS a "
    "WHERE a.trial_id = m.trial_id)) + (SELECT count(*) FROM isotropy AS i WHERE NOT EXISTS "
    "(SELECT 1 FROM attempts AS a WHERE a.trial_id = i.trial_id))",
    // Every trial is in a sweep; a sweep's trial_count is its trials.
    "SELECT count(*) FROM trials AS t WHERE NOT EXISTS "
    "(SELECT 1 FROM sweep_trials WHERE trial_id = t.id)",
    "SELECT count(*) FROM sweeps AS s WHERE trial_count <> "
    "(SELECT count(*) FROM sweep_trials WHERE sweep_id = s.id)",
    // quarantine_after failures in a row quarantine a worker.
    "SELECT count(*) FROM workers WHERE consecutive_failures >= 3 AND quarantined = 0",
};

const std::string& TempDir();

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "coordinator_fuzzer: %s\n", what.c_str());
  std::error_code ignored;
  std::filesystem::remove_all(TempDir(), ignored);  // the server is left running: we abort
  std::abort();
}

struct CloseConnection {
  void operator()(sqlite3* db) const { sqlite3_close(db); }
};
using Connection = std::unique_ptr<sqlite3, CloseConnection>;
struct FinalizeStatement {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};
using Statement = std::unique_ptr<sqlite3_stmt, FinalizeStatement>;

Connection Open(const std::string& path) {
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  Connection connection(db);
  if (rc != SQLITE_OK) Fail("cannot open " + path + ": " + sqlite3_errmsg(db));
  sqlite3_busy_timeout(db, 5000);
  return connection;
}

Statement Prepare(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* statement = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr) != SQLITE_OK) {
    Fail("SQL: " + std::string(sqlite3_errmsg(db)) + ": " + sql);
  }
  return Statement(statement);
}

void Execute(sqlite3* db, const std::string& sql) {
  if (sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    Fail("SQL: " + std::string(sqlite3_errmsg(db)) + ": " + sql);
  }
}

// The rows `statement` returns, and the first column of the first; then resets it.
int64_t Rows(sqlite3_stmt* statement, std::string* first = nullptr) {
  int64_t rows = 0;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(statement)) == SQLITE_ROW) {
    if (rows++ == 0 && first != nullptr) {
      const unsigned char* text = sqlite3_column_text(statement, 0);
      *first = text == nullptr ? "" : reinterpret_cast<const char*>(text);
    }
  }
  if (rc != SQLITE_DONE) Fail("SQL: " + std::string(sqlite3_errstr(rc)));
  sqlite3_reset(statement);
  return rows;
}

// SQL that puts back the seeded rows of every table, from the template attached as "pristine".
// Rows, not pages: SQLite's backup API would also bump the schema cookie, and the server would
// then prepare every statement again (it made most calls several times slower).
std::string RestoreSql(sqlite3* db) {
  const Statement tables = Prepare(db,
                                   "SELECT name FROM pristine.sqlite_schema WHERE type = 'table' "
                                   "AND name NOT LIKE 'sqlite_%'");
  std::string deletes;
  std::string inserts;
  while (sqlite3_step(tables.get()) == SQLITE_ROW) {
    const std::string table = reinterpret_cast<const char*>(sqlite3_column_text(tables.get(), 0));
    deletes += "DELETE FROM main." + table + ";";
    inserts += "INSERT INTO main." + table + " SELECT * FROM pristine." + table + ";";
  }
  return "BEGIN IMMEDIATE;" + deletes + inserts + "COMMIT;";
}

// The coordinator under test, started on a fresh copy of the seeded database, and a connection
// of our own to its file (WAL: it reads what the server committed without waiting for it), with
// the template attached and the invariants prepared.
struct World {
  World(const std::string& db_path, const std::string& template_path) {
    absl::StatusOr<std::unique_ptr<CoordinatorServer>> started =
        CoordinatorServer::Start(Options(db_path, &clock));
    if (!started.ok()) Fail("cannot start the coordinator: " + started.status().ToString());
    server = std::move(*started);
    stub = std::make_unique<grpc::GenericStub>(
        grpc::CreateChannel(server->address(), grpc::InsecureChannelCredentials()));
    side = Open(db_path);
    Execute(side.get(), "PRAGMA foreign_keys = OFF");  // the restore deletes parents first
    const Statement attach = Prepare(side.get(), "ATTACH DATABASE ?1 AS pristine");
    sqlite3_bind_text(attach.get(), 1, template_path.c_str(), -1, SQLITE_TRANSIENT);
    Rows(attach.get());
    restore_sql = RestoreSql(side.get());
    for (const char* sql : kInvariants) invariants.push_back(Prepare(side.get(), sql));
  }
  FakeClock clock{kStart};  // before the server, which reads it
  std::unique_ptr<CoordinatorServer> server;
  std::unique_ptr<grpc::GenericStub> stub;
  Connection side;
  std::string restore_sql;
  std::vector<Statement> invariants;  // after `side`: finalized before it closes
};

struct Fixture {
  std::string dir;
  std::string template_path;  // the seeded database, never served
  std::string db_path;        // the copy under test
  Seeded seeded;
  int restart_every = 500;  // ISTAR_FUZZ_RESTART_EVERY
  bool verbose = false;     // ISTAR_FUZZ_VERBOSE: print each call's status
  int64_t inputs = 0;
  grpc::CompletionQueue queue;
  std::unique_ptr<World> world;
};

Fixture& TheFixture() {
  static Fixture* const fixture = new Fixture;  // lives until exit; see Cleanup
  return *fixture;
}

const std::string& TempDir() { return TheFixture().dir; }

void Cleanup() {
  Fixture& f = TheFixture();
  f.world.reset();
  std::error_code ignored;
  std::filesystem::remove_all(f.dir, ignored);
}

// Puts the world in the seeded state: a new server on a new copy every restart_every inputs
// (starting one costs more than most inputs), else the seeded rows written back over the served
// file, which the server's connection sees at its next statement. What a running server keeps
// in memory (the hang check's last progress per lease) stays, so whether a hang is seen may
// depend on earlier inputs; a crash's input replayed alone starts a new server.
void Reset() {
  Fixture& f = TheFixture();
  if (f.world == nullptr || f.inputs % f.restart_every == 0) {
    f.world.reset();
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(f.db_path + suffix);
    std::filesystem::copy_file(f.template_path, f.db_path);
    f.world = std::make_unique<World>(f.db_path, f.template_path);
    return;
  }
  Execute(f.world->side.get(), f.world->restore_sql);
  f.world->clock.Set(kStart);
}

bool Next(grpc::CompletionQueue& queue, void* tag) {
  void* got = nullptr;
  bool ok = false;
  if (!queue.Next(&got, &ok) || got != tag) Fail("completion queue out of step");
  return ok;
}

grpc::ByteBuffer ToBuffer(const std::string& bytes) {
  grpc::Slice slice(bytes);
  return grpc::ByteBuffer(&slice, 1);
}

std::string FromBuffer(const grpc::ByteBuffer& buffer) {
  std::vector<grpc::Slice> slices;
  std::string bytes;
  if (!buffer.Dump(&slices).ok()) Fail("cannot read a reply");
  for (const grpc::Slice& s : slices) {
    bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  }
  return bytes;
}

struct Outcome {
  grpc::Status status;
  std::vector<std::string> replies;
};

// Sends `messages` raw to `method` and collects the replies and the status.
Outcome Send(const Method& method, const std::vector<std::string>& messages,
             Credentials credentials) {
  Fixture& f = TheFixture();
  grpc::ClientContext context;
  if (credentials == Credentials::kToken) {
    context.AddMetadata("authorization", std::string("Bearer ") + kToken);
  } else if (credentials == Credentials::kWrong) {
    context.AddMetadata("authorization", "Bearer not-the-token-0123456789");
  }
  const milliseconds deadline =
      method.kind == Kind::kServerStream ? milliseconds(10) : milliseconds(5000);
  context.set_deadline(std::chrono::system_clock::now() + deadline);
  const std::string path = std::string("/istar.v1.Coordinator/") + method.name;
  Outcome outcome;
  grpc::ByteBuffer reply;
  if (method.kind == Kind::kUnary) {
    auto call = f.world->stub->PrepareUnaryCall(&context, path, ToBuffer(messages.at(0)), &f.queue);
    call->StartCall();
    call->Finish(&reply, &outcome.status, &reply);
    Next(f.queue, &reply);
    if (outcome.status.ok()) outcome.replies.push_back(FromBuffer(reply));
    return outcome;
  }
  auto call = f.world->stub->PrepareCall(&context, path, &f.queue);
  call->StartCall(&reply);
  bool open = Next(f.queue, &reply);
  for (const std::string& message : messages) {
    if (!open) break;
    call->Write(ToBuffer(message), &reply);
    open = Next(f.queue, &reply);
  }
  if (open) {
    call->WritesDone(&reply);
    Next(f.queue, &reply);
  }
  while (true) {
    call->Read(&reply, &reply);
    if (!Next(f.queue, &reply)) break;
    outcome.replies.push_back(FromBuffer(reply));
  }
  call->Finish(&outcome.status, &reply);
  Next(f.queue, &reply);
  return outcome;
}

std::string Describe(const Method& method, const grpc::Status& status) {
  return std::string(method.name) + " returned code " + std::to_string(status.error_code()) + ": " +
         status.error_message();
}

void CheckOutcome(const Method& method, const std::vector<std::string>& messages,
                  Credentials credentials, const Outcome& outcome) {
  bool parses = true;
  for (const std::string& m : messages) parses = parses && method.request_parses(m);
  const grpc::StatusCode code = outcome.status.error_code();
  if (!parses) {
    // gRPC answers a request it cannot parse itself ("Failed to parse"); a stream's handler
    // sees its end at the first such message.
    if (method.kind == Kind::kUnary && code != grpc::StatusCode::INTERNAL) {
      Fail("unparsable request: " + Describe(method, outcome.status));
    }
    return;
  }
  using grpc::StatusCode;
  // WatchSweep's short deadline can pass before any answer on a busy machine.
  const bool watch_ended =
      method.kind == Kind::kServerStream && code == StatusCode::DEADLINE_EXCEEDED;
  if (credentials != Credentials::kToken) {
    if (code != StatusCode::UNAUTHENTICATED && !watch_ended) {
      Fail("no token: " + Describe(method, outcome.status));
    }
    return;
  }
  const bool handler_code = code == StatusCode::OK || code == StatusCode::INVALID_ARGUMENT ||
                            code == StatusCode::NOT_FOUND ||
                            code == StatusCode::FAILED_PRECONDITION;
  if (!handler_code && !watch_ended) Fail(Describe(method, outcome.status));
  for (const std::string& reply : outcome.replies) {
    if (!method.response_parses(reply)) Fail(std::string(method.name) + ": a reply does not parse");
  }
  if (!outcome.status.ok()) return;
  if (method.kind != Kind::kServerStream && outcome.replies.size() != 1) {
    Fail(Describe(method, outcome.status) + ": no reply");
  }
  if (method.kind == Kind::kClientStream) {
    v1::ReportMetricsResponse response;
    response.ParseFromString(outcome.replies[0]);
    if (response.batches() != static_cast<int64_t>(messages.size())) {
      Fail("ReportMetrics: OK without storing every batch");
    }
  }
}

// A sweep file is submitted only when it expands to few trials: one of a million (the loader's
// limit) takes minutes under ASan, and would be a missed deadline that is no bug.
bool TooLarge(const std::string& payload) {
  v1::SubmitSweepRequest request;
  if (!request.ParseFromString(payload) || request.yaml().empty()) return false;
  absl::StatusOr<sweeps::SweepSpec> sweep = sweeps::ParseSweep(request.yaml(), "fuzz.yaml");
  return sweep.ok() && sweep->trials.size() > 64;
}

void RunCall(const Record& record) {
  const int index = (record.selector & 15) % (kAdvanceClock + 1);
  if (index == kAdvanceClock) {
    uint32_t ms = 0;
    for (size_t i = 0; i < 4 && i < record.payload.size(); ++i) {
      ms |= static_cast<uint32_t>(static_cast<uint8_t>(record.payload[i])) << (8 * i);
    }
    TheFixture().world->clock.Advance(milliseconds(ms));
    return;
  }
  const Method& method = kMethods[index];
  if (index == kSubmitSweep && TooLarge(record.payload)) return;
  const Credentials credentials = CredentialsOf(record.selector);
  const std::vector<std::string> messages = method.kind == Kind::kClientStream
                                                ? SplitMessages(record.payload)
                                                : std::vector<std::string>{record.payload};
  const auto start = std::chrono::steady_clock::now();
  const Outcome outcome = Send(method, messages, credentials);
  if (TheFixture().verbose) {
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - start);
    std::fprintf(stderr, "%s (credentials %d, %lld us): %s\n", method.name,
                 static_cast<int>(credentials), static_cast<long long>(took.count()),
                 Describe(method, outcome.status).c_str());
  }
  CheckOutcome(method, messages, credentials, outcome);
}

void CheckDatabase(bool thorough) {
  World& world = *TheFixture().world;
  for (size_t k = 0; k < world.invariants.size(); ++k) {
    std::string rows;
    Rows(world.invariants[k].get(), &rows);
    if (rows != "0") Fail("database invariant broken (" + rows + " rows): " + kInvariants[k]);
  }
  if (!thorough) return;
  std::string check;
  Rows(Prepare(world.side.get(), "PRAGMA main.quick_check").get(), &check);
  if (check != "ok") Fail("quick_check: " + check);
  if (Rows(Prepare(world.side.get(), "PRAGMA main.foreign_key_check").get()) != 0) {
    Fail("foreign_key_check: a row without its parent");
  }
}

}  // namespace
}  // namespace istar::coordinator::fuzz

namespace fz = istar::coordinator::fuzz;

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  fz::Fixture& f = fz::TheFixture();
  google::protobuf::SetLogHandler(nullptr);  // the mutator's invalid UTF-8 would flood stderr
  const bool shm = std::filesystem::is_directory("/dev/shm");
  std::string pattern = std::string(shm ? "/dev/shm" : "/tmp") + "/istar-coordinator-fuzz-XXXXXX";
  if (mkdtemp(pattern.data()) == nullptr) fz::Fail("mkdtemp failed");
  f.dir = pattern;
  f.template_path = f.dir + "/template.db";
  f.db_path = f.dir + "/results.db";
  if (const char* every = std::getenv("ISTAR_FUZZ_RESTART_EVERY")) {
    f.restart_every = std::max(1, std::atoi(every));
  }
  f.verbose = std::getenv("ISTAR_FUZZ_VERBOSE") != nullptr;
  absl::StatusOr<fz::Seeded> seeded = fz::MakeSeededDatabase(f.template_path);
  // After OpenSSL's own exit handler, so that it runs first: the servers' threads must end
  // (freeing their OpenSSL thread state) before OpenSSL cleans up, or LeakSanitizer sees leaks.
  std::atexit(fz::Cleanup);
  if (!seeded.ok()) fz::Fail("cannot seed the database: " + seeded.status().ToString());
  f.seeded = *seeded;
  if (const char* dir = std::getenv("ISTAR_FUZZ_WRITE_SEEDS")) {
    const absl::Status written = fz::WriteSeeds(f.seeded, dir);
    if (!written.ok()) fz::Fail("cannot write the seeds: " + written.ToString());
    std::exit(0);
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > 65536) return -1;
  fz::Fixture& f = fz::TheFixture();
  fz::Reset();
  for (const fz::Record& record : fz::Decode(data, size)) fz::RunCall(record);
  fz::CheckDatabase(f.inputs % 64 == 0);
  ++f.inputs;
  return 0;
}
