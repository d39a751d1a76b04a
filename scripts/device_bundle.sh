#!/bin/sh
# device_bundle.sh: prepares build/device.tar.xz for a lent GPU machine (the device tool's `run`,
# with carry ["build/device.tar.xz"]; compressed because the tree that travels is capped at
# 64 MiB and OpenBLAS alone is 36 MB). That machine has CUDA but none of Debian's libraries and no network,
# so the programs travel with the shared libraries they load from outside CUDA and libc.
# Run here, after `make all` with nvcc present; then on the GPU machine: scripts/device_check.sh
set -eu
cd "$(dirname "$0")/.."
BUNDLE=build/device
PROGS="build/hasten build/tests/test_cuda build/tests/test_devmem build/tests/test_kernels"

for p in $PROGS; do
    [ -x "$p" ] || { echo "device_bundle: $p is missing; run make all (with nvcc) first" >&2; exit 2; }
done
nm build/hasten | grep -q cublasCreate || {
    echo "device_bundle: build/hasten was built without CUDA (no nvcc, or NO_CUDA=1)" >&2; exit 2; }

rm -rf "$BUNDLE" && mkdir -p "$BUNDLE/lib" "$BUNDLE/tests"
cp build/hasten "$BUNDLE/"
for p in $PROGS; do
    case $p in build/tests/*) cp "$p" "$BUNDLE/tests/" ;; esac
done

# Libraries from outside libc, libstdc++ and CUDA: the GPU machine's own are used for those.
for p in $PROGS; do ldd "$p"; done | awk '$3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
    case $(basename "$lib") in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++.so*) ;;
        libgcc_s.so*|libcublas*|libcudart*) ;;
        *) cp -L "$lib" "$BUNDLE/lib/" ;;
    esac
done
# Written aside and renamed: an interrupted run must not leave a truncated archive to carry.
echo "device_bundle: compressing (about 3 minutes on 2 cores)"
tar -C build -cJf build/device.tar.xz.tmp device
mv build/device.tar.xz.tmp build/device.tar.xz
du -h build/device.tar.xz
echo "carry build/device.tar.xz; run: sh scripts/device_check.sh"
