#!/usr/bin/env bash
# Rebuilds the committed kernel binary when its CUDA source changed.
#
#   src/main/cuda/grad4j_kernels.cu             the source
#   src/main/cuda/grad4j_kernels.cu.sha256      hash of the source the committed fatbin was built from
#   src/main/resources/io/grad4j/cuda/grad4j_kernels.fatbin(.sha256)   the binary the backend loads
#   src/main/cuda/ptxas-report.txt              ptxas -v output (registers, spills) of that build
#
# Source unchanged: does nothing (no nvcc needed). Source changed and nvcc present: rebuilds all
# of the above. Source changed and no nvcc: fails, because the fatbin would no longer match.
# --force rebuilds regardless. Runs from any directory; Maven calls it in generate-resources.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/src/main/cuda/grad4j_kernels.cu"
srcHash="$here/src/main/cuda/grad4j_kernels.cu.sha256"
out="$here/src/main/resources/io/grad4j/cuda/grad4j_kernels.fatbin"
report="$here/src/main/cuda/ptxas-report.txt"
NVCC="${NVCC:-nvcc}"
# sm_80 and sm_90 machine code, plus compute_90 PTX the driver can JIT for newer GPUs.
GENCODE=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)

current="$(sha256sum "$src" | cut -d' ' -f1)"
recorded="$(cut -d' ' -f1 "$srcHash" 2>/dev/null || true)"

if [[ "${1:-}" != "--force" && "$current" == "$recorded" && -f "$out" ]]; then
  exit 0
fi

if ! command -v "$NVCC" >/dev/null 2>&1; then
  echo "ERROR: $src changed (sha256 $current, fatbin built from ${recorded:-nothing})" >&2
  echo "       but nvcc is not on PATH, so grad4j_kernels.fatbin cannot be rebuilt." >&2
  echo "       Run cuda-backend/build-kernels.sh on a machine with the CUDA toolkit (nvcc >= 12)" >&2
  echo "       and commit the .fatbin, its .sha256, the .cu.sha256 and ptxas-report.txt," >&2
  echo "       or revert the .cu change." >&2
  exit 1
fi

echo "build-kernels: compiling $(basename "$src") with $("$NVCC" --version | tail -1)"
"$NVCC" -fatbin "${GENCODE[@]}" -O3 -o "$out" "$src"
# ptxas resource usage (registers, shared memory, spills) of every kernel, per architecture.
"$NVCC" -cubin -gencode arch=compute_90,code=sm_90 -O3 -Xptxas -v -o /dev/null "$src" 2> "$report.tmp" || {
  cat "$report.tmp" >&2; rm -f "$report.tmp"; exit 1; }
{
  echo "# ptxas -v for grad4j_kernels.cu (sm_90), $("$NVCC" --version | tail -1)"
  echo "# source sha256 $current"
  grep -E "Compiling entry|Used|spill" "$report.tmp"
} > "$report"
rm -f "$report.tmp"
(cd "$(dirname "$out")" && sha256sum "$(basename "$out")" > "$(basename "$out").sha256")
(cd "$(dirname "$src")" && sha256sum "$(basename "$src")" > "$(basename "$src").sha256")
echo "build-kernels: wrote $out ($(stat -c %s "$out") bytes) and $report"
