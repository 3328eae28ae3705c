#!/usr/bin/env bash
# The one bench command of issue 11: installs the Debian peers it needs (OpenBLAS for GEMM, python3-torch and the
# jemalloc allocator it runs with for the training peer), then runs `peers`, which prints one table of SeekSharp beside each peer, measured in this run on
# this host. Options go to the verb (bench/README.md, `peers`), e.g. bench/peers.sh --threads 2 --rounds 3.
# llama.cpp (LLamaSharp's CPU backend) and Hugging Face tokenizers (Tokenizers.DotNet) come with the bench's NuGet
# packages; nothing else is downloaded.
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
[ -e /usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0 ] || need+=(libopenblas0-pthread)
/usr/bin/python3 -c 'import torch' 2>/dev/null || need+=(python3-torch)
# PyTorch's allocator on this kind of VM: a fresh page costs ~100x a reused one (bench/SeekSharp.Bench/TorchPeer.cs).
ls /usr/lib/x86_64-linux-gnu/libjemalloc.so.2 >/dev/null 2>&1 || need+=(libjemalloc2)
if [ ${#need[@]} -gt 0 ]; then
    echo "peers.sh: installing the peers ${need[*]} with apt-get" >&2
    sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
    $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq >&2
    DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${need[@]}" >&2
else
    echo "peers.sh: the Debian peers are installed (libopenblas0-pthread, python3-torch, libjemalloc2)" >&2
fi

dotnet build -c Release bench/SeekSharp.Bench -v quiet -nologo >&2
exec dotnet run -c Release --no-build --project bench/SeekSharp.Bench -- peers "$@"
