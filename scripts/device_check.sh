#!/bin/sh
# device_check.sh: the GPU checks of the CUDA backend, in one run under 8 minutes on a lent GPU
# machine, over a working tree that carries build/device.tar.xz (scripts/device_bundle.sh). Writes
# every output to $OUT (default out/device) and a summary of exit statuses to summary.txt.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-out/device}
mkdir -p "$OUT"
B=build/device
[ -d "$B" ] || tar -C build -xJf build/device.tar.xz || exit 2
export LD_LIBRARY_PATH="$PWD/$B/lib:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-8}

step() {   # step NAME SECONDS COMMAND...: runs one check with its own time limit
    name=$1 limit=$2
    shift 2
    start=$(date +%s)
    timeout "$limit" "$@" >"$OUT/$name.txt" 2>&1
    rc=$?
    echo "$name: exit $rc, $(( $(date +%s) - start )) s" | tee -a "$OUT/summary.txt"
}

: >"$OUT/summary.txt"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv >"$OUT/gpu.txt" 2>&1
step test_kernels 60 "$B/tests/test_kernels"
step test_cuda 120 env HASTEN_REQUIRE_GPU=1 "$B/tests/test_cuda"
step test_devmem 60 "$B/tests/test_devmem"
step bench_fp32 150 "$B/hasten" bench --suite vit-s --device cuda
step bench_tf32 100 env HASTEN_TF32=1 "$B/hasten" bench --suite vit-s --device cuda --mode moco
tail -n 40 "$OUT/test_cuda.txt" "$OUT/bench_fp32.txt" "$OUT/bench_tf32.txt"
