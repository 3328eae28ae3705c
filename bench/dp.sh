#!/usr/bin/env bash
# Data- and expert-parallel training speed on this machine (docs/distributed.md): train-36m, global batch 8 × 256,
# --threads 1 per rank, on one process (and one process with 2 threads) and on two ranks: data parallel with the gradient
# buckets all-reduced after the backward pass, during it, and with ZeRO-1; expert parallel. Prints each run's last steps and its end-of-run summary (the communication share of rank 0's step time,
# the optimiser state on rank 0). Usage: bench/dp.sh [STEPS] (default 6); the corpus is this repository's docs and
# sources, read as UTF-8 bytes.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
steps="${1:-6}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cat "$root"/docs/*.md "$root"/src/SeekSharp/*/*.cs > "$work/corpus.txt"
"$root/seeksharp" --help > /dev/null   # build once, before mpirun starts two copies
common=(train --preset train-36m --data "$work/corpus.txt" --batch-size 8 --seq-len 256 --steps "$steps" --eval-every 0 --save-every 0
  --peak-gflops 100)
run() {
  echo "== $*"
  rm -rf "$work/run"
  "$@" --out "$work/run" 2>&1 | grep -E "^step |communication|optimizer state|routed experts|gradient bucket" | tail -n 6
}
export OMPI_MCA_btl_vader_single_copy_mechanism=none   # containers often forbid the ptrace-based copy
export OMPI_MCA_mpi_yield_when_idle=1                  # waiting ranks yield the core (docs/distributed.md)
mpi=(mpirun --bind-to none -np 2)
[ "$(id -u)" = 0 ] && mpi=(mpirun --allow-run-as-root --bind-to none -np 2)
run "$root/seeksharp" "${common[@]}" --threads 1
run "$root/seeksharp" "${common[@]}" --threads 2
run "${mpi[@]}" "$root/seeksharp" "${common[@]}" --threads 1 --parallel dp --overlap false
run "${mpi[@]}" "$root/seeksharp" "${common[@]}" --threads 1 --parallel dp --overlap true
run "${mpi[@]}" "$root/seeksharp" "${common[@]}" --threads 1 --parallel dp --zero 1
run "${mpi[@]}" "$root/seeksharp" "${common[@]}" --threads 1 --parallel ep
