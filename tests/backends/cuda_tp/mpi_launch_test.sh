#!/usr/bin/env bash
# The MPI launch of the tools (backends/cuda_tp/mpi_launch.h), on any machine:
#   mpi_launch_test.sh MPIRUN GPT2
# - under mpirun -n 2 the tool's output is its output alone (rank 1 serves
#   rank 0 and prints nothing), and the job ends when rank 0 does;
# - without a GPU, cuda-tp under mpirun fails with one line and a non-zero
#   exit, and the job ends (no rank waits for ever).
set -euo pipefail
mpirun=$1 gpt2=$2
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_btl=self,vader
launch=("$mpirun" -n 2 --oversubscribe)
alone=$("$gpt2" --backend pthreads --threads 1 31373 612 338)
launched=$(timeout 60 "${launch[@]}" "$gpt2" --backend pthreads --threads 1 31373 612 338)
if [ "$alone" != "$launched" ]; then
  echo "FAIL: under mpirun -n 2: '$launched', alone: '$alone'"
  exit 1
fi
echo "ok: under mpirun -n 2 the output is the tool's alone: $launched"
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  echo "a GPU is here: the no-GPU error is not checked (tests/backends/cuda_tp runs the GPU)"
  exit 0
fi
set +e
err=$(timeout 60 "${launch[@]}" "$gpt2" --backend cuda-tp --devices 2 31373 2>&1 >/dev/null)
rc=$?
set -e
if [ "$rc" -eq 0 ] || [ "$rc" -eq 124 ]; then
  echo "FAIL: cuda-tp without a GPU under mpirun exited $rc (124: it hung)"
  exit 1
fi
if ! grep -q "^backend cuda-tp: " <<<"$err"; then
  echo "FAIL: no one-line error from cuda-tp: $err"
  exit 1
fi
echo "ok: cuda-tp without a GPU under mpirun: exit $rc, $(grep '^backend cuda-tp: ' <<<"$err")"
