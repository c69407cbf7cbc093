# Every external dependency is found here, once, with a message that says which Debian package
# provides it (deploy/debian/install-deps.sh installs them all).

function(istar_require found what package)
  if(NOT ${found})
    message(FATAL_ERROR
      "istar needs ${what}, which was not found. On Debian 12 install it with\n"
      "    apt-get install ${package}\n"
      "or run deploy/debian/install-deps.sh, which installs everything istar needs.")
  endif()
endfunction()

find_package(absl CONFIG QUIET)
istar_require(absl_FOUND "Abseil (absl::status)" libabsl-dev)

find_package(CLI11 CONFIG QUIET)
istar_require(CLI11_FOUND "CLI11 (command-line parsing)" libcli11-dev)

find_package(nlohmann_json 3 CONFIG QUIET)
istar_require(nlohmann_json_FOUND "nlohmann-json (JSON headers)" nlohmann-json3-dev)

if(ISTAR_WITH_TRAINER)
  # Debian's LibTorch 1.13 (CPU). A CUDA LibTorch is chosen with -DTorch_DIR=.../share/cmake/Torch.
  find_package(Torch CONFIG QUIET)
  istar_require(Torch_FOUND "LibTorch" libtorch-dev)
  # TorchConfig adds flags such as -D_GLIBCXX_USE_CXX11_ABI to TORCH_CXX_FLAGS; honour them.
  separate_arguments(ISTAR_TORCH_CXX_FLAGS UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  add_library(istar_torch INTERFACE)
  target_link_libraries(istar_torch INTERFACE ${TORCH_LIBRARIES})
  target_compile_options(istar_torch INTERFACE ${ISTAR_TORCH_CXX_FLAGS})
  add_library(istar::torch ALIAS istar_torch)
  # A CUDA LibTorch (TorchConfig found c10_cuda): the few files that call LibTorch's CUDA API
  # (current stream, caching allocator statistics) compile it in under ISTAR_TORCH_CUDA; Debian's
  # CPU LibTorch ships those headers but not the library.
  if(C10_CUDA_LIBRARY)
    target_compile_definitions(istar_torch INTERFACE ISTAR_TORCH_CUDA=1)
    message(STATUS "istar: LibTorch with CUDA (${C10_CUDA_LIBRARY})")
  endif()
endif()

if(ISTAR_BUILD_TESTS)
  find_package(GTest CONFIG QUIET)
  istar_require(GTest_FOUND "GoogleTest" libgtest-dev)
  include(GoogleTest)
endif()
if(ISTAR_BUILD_BENCHMARKS)
  find_package(benchmark CONFIG QUIET)
  istar_require(benchmark_FOUND "Google Benchmark" libbenchmark-dev)
endif()

# Used by the modules of later issues (sweeps, db, proto, coordinator, comm); found now so that a
# machine missing one of them fails at configure time with the package to install.
find_package(yaml-cpp CONFIG QUIET)
istar_require(yaml-cpp_FOUND "yaml-cpp" libyaml-cpp-dev)
# Tokenizers: Unicode normalisation (NFD, case folding) and SentencePiece (ALBERT). Neither ships a
# CMake config on Debian; pkg-config finds both.
find_package(PkgConfig QUIET)
istar_require(PkgConfig_FOUND "pkg-config" pkg-config)
pkg_check_modules(UTF8PROC QUIET IMPORTED_TARGET libutf8proc)
istar_require(UTF8PROC_FOUND "utf8proc" libutf8proc-dev)
pkg_check_modules(SENTENCEPIECE QUIET IMPORTED_TARGET sentencepiece)
istar_require(SENTENCEPIECE_FOUND "SentencePiece" libsentencepiece-dev)

# `istar dashboard`'s HTTP(S) server. Debian builds cpp-httplib as a library (with OpenSSL, zlib
# and Brotli); its pkg-config file carries the matching CPPHTTPLIB_*_SUPPORT definitions.
pkg_check_modules(HTTPLIB QUIET IMPORTED_TARGET cpp-httplib)
istar_require(HTTPLIB_FOUND "cpp-httplib" libcpp-httplib-dev)
find_package(ZLIB QUIET)   # the dashboard's gzip-compressed answers
istar_require(ZLIB_FOUND "zlib" zlib1g-dev)
find_package(OpenSSL QUIET)   # libcrypto: SHA-256 of trial configurations
istar_require(OpenSSL_FOUND "OpenSSL (libcrypto)" libssl-dev)
find_package(SQLite3 QUIET)
istar_require(SQLite3_FOUND "SQLite 3" libsqlite3-dev)
if(ISTAR_WITH_COORDINATOR)
  find_package(Protobuf QUIET)   # CMake's FindProtobuf: Debian's protobuf ships no CMake config.
  istar_require(Protobuf_FOUND "protobuf" "libprotobuf-dev protobuf-compiler")
  find_package(gRPC CONFIG QUIET)
  istar_require(gRPC_FOUND "gRPC C++" "libgrpc++-dev protobuf-compiler-grpc")
endif()
if(ISTAR_WITH_MPI)
  find_package(MPI QUIET COMPONENTS CXX)
  istar_require(MPI_FOUND "MPI (OpenMPI)" "libopenmpi-dev openmpi-bin")
endif()
