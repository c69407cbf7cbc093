// File: comm/counting_communicator.h
// -----------------------------------------------------------------------------
// A Communicator that forwards every call to another and counts the traffic: bytes all-reduced
// (blocking and started), bytes broadcast, calls, and the largest single buffer. For measuring
// where a step's bytes go (bench/data_parallel_bench.cc) and for tests that check which
// communicator carries what.
//
// Example:
//
//   comm::CountingCommunicator counted(*mpi);
//   ... train with `counted` ...
//   std::cout << counted.allreduce_bytes() << " bytes all-reduced\n";
//
// Thread safety: as the wrapped communicator's (one thread at a time); the counters are plain
// integers read by that thread.
#ifndef ISTAR_COMM_COUNTING_COMMUNICATOR_H_
#define ISTAR_COMM_COUNTING_COMMUNICATOR_H_

#include <cstdint>

#include "comm/communicator.h"

namespace istar::comm {

class CountingCommunicator final : public Communicator {
 public:
  // `inner` must outlive this.
  explicit CountingCommunicator(Communicator& inner) : inner_(inner) {}

  int rank() const override { return inner_.rank(); }
  int size() const override { return inner_.size(); }
  Memory memory() const override { return inner_.memory(); }
  [[nodiscard]] absl::Status AllReduceSum(std::span<float> data) override;
  [[nodiscard]] absl::Status AllReduceSum(std::span<double> data) override;
  [[nodiscard]] absl::Status Broadcast(std::span<std::byte> data, int root) override;
  [[nodiscard]] absl::Status Barrier() override { return inner_.Barrier(); }
  [[nodiscard]] absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(std::span<float> data,
                                                                           Stream stream) override;
  [[nodiscard]] absl::StatusOr<std::unique_ptr<Pending>> StartAllReduceSum(std::span<double> data,
                                                                           Stream stream) override;
  [[nodiscard]] absl::Status BroadcastOnStream(std::span<std::byte> data, int root,
                                               Stream stream) override;

  int64_t allreduce_bytes() const { return allreduce_bytes_; }  // blocking and started
  int64_t broadcast_bytes() const { return broadcast_bytes_; }
  int64_t calls() const { return calls_; }            // all-reduces and broadcasts
  int64_t largest_bytes() const { return largest_; }  // the largest one buffer

 private:
  void Count(int64_t bytes, int64_t& total);

  Communicator& inner_;
  int64_t allreduce_bytes_ = 0;
  int64_t broadcast_bytes_ = 0;
  int64_t calls_ = 0;
  int64_t largest_ = 0;
};

}  // namespace istar::comm

#endif  // ISTAR_COMM_COUNTING_COMMUNICATOR_H_
