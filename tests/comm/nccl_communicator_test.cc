// The NCCL communicator with one rank on one GPU (issue 8): built and bootstrapped through a
// LocalCommunicator, its collectives on device buffers (cudaMalloc) leave a one-rank group's
// values as they are. Compiled only with NCCL
// (ISTAR_HAVE_NCCL); skipped, saying so, where the CUDA runtime sees no GPU (CI, this machine).
#include <gtest/gtest.h>

#include "comm/communicator.h"

#ifdef ISTAR_HAVE_NCCL
#include <cuda_runtime.h>

#include <array>
#include <cstddef>
#include <span>
#include <vector>

namespace istar::comm {
namespace {

// One device buffer, freed with its owner.
template <typename T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<T>& values) : size_(values.size()) {
    EXPECT_EQ(cudaMalloc(reinterpret_cast<void**>(&data_), size_ * sizeof(T)), cudaSuccess);
    EXPECT_EQ(cudaMemcpy(data_, values.data(), size_ * sizeof(T), cudaMemcpyHostToDevice),
              cudaSuccess);
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { cudaFree(data_); }

  std::span<T> span() { return {data_, size_}; }
  std::vector<T> ToHost() const {
    std::vector<T> host(size_);
    EXPECT_EQ(cudaMemcpy(host.data(), data_, size_ * sizeof(T), cudaMemcpyDeviceToHost),
              cudaSuccess);
    return host;
  }

 private:
  T* data_ = nullptr;
  size_t size_;
};

bool HaveGpu() {
  int devices = 0;
  return cudaGetDeviceCount(&devices) == cudaSuccess && devices > 0;
}

TEST(NcclCommunicator, OneRankCollectivesOnDeviceBuffers) {
  if (!HaveGpu()) GTEST_SKIP() << "no CUDA device: the NCCL communicator needs a GPU";
  LocalCommunicator bootstrap;
  absl::StatusOr<std::unique_ptr<Communicator>> nccl = CreateNcclCommunicator(bootstrap, 0);
  ASSERT_TRUE(nccl.ok()) << nccl.status();
  Communicator& comm = **nccl;
  EXPECT_EQ(comm.rank(), 0);
  EXPECT_EQ(comm.size(), 1);

  const std::vector<float> floats = {1.5f, -2.0f, 3.25f, 1e-20f};
  DeviceBuffer<float> f(floats);
  ASSERT_TRUE(comm.AllReduceSum(f.span()).ok());
  EXPECT_EQ(f.ToHost(), floats);  // the sum over one rank

  const std::vector<double> doubles(1 << 20, 0.125);  // 8 MiB: larger than one NCCL chunk
  DeviceBuffer<double> d(doubles);
  ASSERT_TRUE(comm.AllReduceSum(d.span()).ok());
  EXPECT_EQ(d.ToHost(), doubles);

  const std::vector<std::byte> bytes = {std::byte{1}, std::byte{2}, std::byte{255}};
  DeviceBuffer<std::byte> b(bytes);
  ASSERT_TRUE(comm.Broadcast(b.span(), 0).ok());
  EXPECT_EQ(b.ToHost(), bytes);
  EXPECT_TRUE(comm.Barrier().ok());
}

// The stream-ordered collectives: started behind a copy queued on a stream of the caller's own,
// finished by making that stream wait, then read back on it.
TEST(NcclCommunicator, CollectivesInFlightAreOrderedOnTheCallersStream) {
  if (!HaveGpu()) GTEST_SKIP() << "no CUDA device: the NCCL communicator needs a GPU";
  LocalCommunicator bootstrap;
  absl::StatusOr<std::unique_ptr<Communicator>> nccl = CreateNcclCommunicator(bootstrap, 0);
  ASSERT_TRUE(nccl.ok()) << nccl.status();
  cudaStream_t stream = nullptr;
  ASSERT_EQ(cudaStreamCreateWithFlags(&stream, cudaStreamNonBlocking), cudaSuccess);
  const std::vector<float> values(1 << 20, 0.5f);
  DeviceBuffer<float> buffer(std::vector<float>(values.size(), 0.0f));
  // The data is produced on `stream`; the collective must not start before it is there.
  ASSERT_EQ(cudaMemcpyAsync(buffer.span().data(), values.data(), values.size() * sizeof(float),
                            cudaMemcpyHostToDevice, stream),
            cudaSuccess);
  absl::StatusOr<std::unique_ptr<Communicator::Pending>> pending =
      (*nccl)->StartAllReduceSum(buffer.span(), stream);
  ASSERT_TRUE(pending.ok()) << pending.status();
  ASSERT_TRUE((*pending)->Finish(stream).ok());
  std::vector<float> back(values.size());
  ASSERT_EQ(cudaMemcpyAsync(back.data(), buffer.span().data(), back.size() * sizeof(float),
                            cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(back, values);
  const std::vector<std::byte> bytes = {std::byte{9}, std::byte{8}};
  DeviceBuffer<std::byte> b(bytes);
  EXPECT_TRUE((*nccl)->BroadcastOnStream(b.span(), 0, stream).ok());
  EXPECT_TRUE(absl::IsInvalidArgument((*nccl)->BroadcastOnStream(b.span(), 1, stream)));
  ASSERT_EQ(cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(b.ToHost(), bytes);
  cudaStreamDestroy(stream);
}

}  // namespace
}  // namespace istar::comm
#endif  // ISTAR_HAVE_NCCL
