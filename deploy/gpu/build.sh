#!/usr/bin/env bash
# The GPU build, in one command, on a bare GPU machine: CUDA, nvcc, cmake, ninja and Python's
# PyTorch (whose wheel carries LibTorch's headers, libraries and share/cmake/Torch) but no Debian
# development packages and no network. Unpacks deploy/gpu/debs/ (made beforehand by
# deploy/gpu/fetch-deps.sh on a Debian machine) into build-gpu/prefix, configures istar against
# the wheel's LibTorch with the coordinator and MPI left out, and builds the LibTorch side: the
# istar binary, the regularizer, model, trainer and comm tests, and the regularizer benchmark.
#
#   bash deploy/gpu/build.sh [extra CMake arguments]
#   source build-gpu/env.sh    # LD_LIBRARY_PATH for the unpacked libraries and LibTorch
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
debs=$root/deploy/gpu/debs
build=$root/build-gpu
prefix=$build/prefix

ls "$debs"/*.deb > /dev/null 2>&1 ||
  { echo "gpu build: no packages in $debs: run deploy/gpu/fetch-deps.sh on a Debian machine" >&2; exit 1; }
python=${PYTHON:-python3}
torch_cmake=$("$python" -c 'import torch; print(torch.utils.cmake_prefix_path)') ||
  { echo "gpu build: $python cannot import torch" >&2; exit 1; }
torch_lib=$("$python" -c 'import os, torch; print(os.path.join(os.path.dirname(torch.__file__), "lib"))')
cuda_ok=$("$python" -c 'import torch; print(int(torch.cuda.is_available()))')
echo "gpu build: torch $("$python" -c 'import torch; print(torch.__version__, torch.version.cuda)'), CUDA available: $cuda_ok"
# NCCL as PyTorch's wheel installs it (nvidia-nccl-cu*): site-packages/nvidia/nccl.
nccl_root=$("$python" -c 'import os, nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)

# 1. The packages, unpacked (dpkg-deb where it exists, else ar + tar), their pkg-config files
#    pointed at the prefix.
mkdir -p "$prefix"
for deb in "$debs"/*.deb; do
  if command -v dpkg-deb > /dev/null; then
    dpkg-deb -x "$deb" "$prefix"
  else
    member=$(ar t "$deb" | grep '^data\.tar')
    ar p "$deb" "$member" | tar -x -C "$prefix" $([ "${member##*.}" = xz ] && echo -J)
  fi
done
multiarch=$prefix/usr/lib/x86_64-linux-gnu
sed -i "s|^prefix=/usr\$|prefix=$prefix/usr|" "$multiarch"/pkgconfig/*.pc
export PKG_CONFIG_LIBDIR=$multiarch/pkgconfig
export PATH=$prefix/usr/bin:$PATH
command -v pkg-config > /dev/null || ln -sf pkgconf "$prefix/usr/bin/pkg-config"

cat > "$build/env.sh" <<ENV
export LD_LIBRARY_PATH=$multiarch:$torch_lib\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}
ENV
source "$build/env.sh"

# 2. Configure and build the LibTorch side.
args=(-S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
      -DISTAR_WITH_COORDINATOR=OFF -DISTAR_WITH_MPI=OFF
      "-DCMAKE_PREFIX_PATH=$prefix/usr;$torch_cmake")
[ -n "$nccl_root" ] && args+=("-DNCCL_ROOT=$nccl_root")
command -v ccache > /dev/null && args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake "${args[@]}" "$@"
cmake --build "$build" --parallel "$(nproc)" --target istar istar_regularizers_test \
  istar_models_test istar_trainer_test istar_comm_test istar_regularizers_bench istar_train_bench
echo "gpu build: done; source $build/env.sh before running what it built"
