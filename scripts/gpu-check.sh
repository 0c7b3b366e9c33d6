#!/usr/bin/env bash
# Runs grad4j's CUDA checks on a GPU machine, from the repository root, with .gpu/ built by
# scripts/gpu-bundle.sh (no Java or Maven needed there). Ends within 5 minutes.
#   1. nvidia-smi
#   2. the conformance, autograd and training suites plus the primitive-level GPU test on cuda
#      (-Dgrad4j.backend=cuda) through the JUnit console launcher
#   3. grad4j info, gradcheck and the default train on cuda (the command line users run); the
#      same short training twice (identical metrics); device memory per epoch (flat after epoch 1)
#   4. compute-sanitizer memcheck and racecheck over the primitive-level test class
#   5. speed beside PyTorch on the same GPU: the PyTorch training and workload peers, JMH on cuda
#   6. a pass/fail table
# Logs and JUnit XML are packed into $OUT/gpu-check-logs.tgz (.gpu-out/ when OUT is unset).
# Exit status 0 only when all pass.
# Options: GRAD4J_CUDA_GEMM=builtin|cublas|auto (default auto), SKIP_MEMCHECK=1, PERF=0.
set -uo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# logs are written to a work folder and packed into $OUT/gpu-check-logs.tgz at the end: the device
# tool returns at most 8 files, and this check writes about twenty
dest="${OUT:-$root/.gpu-out}"
mkdir -p "$dest"
out="$(mktemp -d)"
java=".gpu/jdk/bin/java"
lib=".gpu/lib"
if [[ ! -x "$java" ]]; then
  echo "ERROR: $java missing: run scripts/gpu-bundle.sh on the build machine and bring .gpu/ along" >&2
  exit 2
fi
cp="$(ls "$lib"/*.jar | grep -v console-standalone | tr '\n' ':')"
console="$(ls "$lib"/junit-platform-console-standalone-*.jar)"
tmpdir="$(mktemp -d)"  # JCuda unpacks its natives here
trap 'rm -rf "$tmpdir"' EXIT
jvm=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow
     -Djava.io.tmpdir="$tmpdir" -Dgrad4j.backend=cuda -Dgrad4j.cuda.gemm="${GRAD4J_CUDA_GEMM:-auto}")
declare -a names results
t0=$(date +%s)

step() { # name, log file, lines of the log to show, timeout seconds, command...
  local name="$1" log="$2" show="$3" limit="$4"; shift 4
  echo; echo "=== $name (limit ${limit}s, full log $out/$log) ==="
  local s=$(date +%s)
  timeout --kill-after=10 "$limit" "$@" > "$out/$log" 2>&1
  local rc=$?
  tail -n "$show" "$out/$log"
  local verdict=PASS
  if (( rc == 124 || rc == 137 )); then verdict="TIMEOUT"; elif (( rc != 0 )); then verdict="FAIL(rc=$rc)"; fi
  names+=("$name"); results+=("$verdict in $(( $(date +%s) - s ))s, log $log")
}

step "nvidia-smi" nvidia-smi.log 40 20 nvidia-smi

step "cuda suites" suites.log 16 170 "$java" "${jvm[@]}" -jar "$console" execute \
  --class-path "$cp" --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii \
  --reports-dir "$out/junit-suites" \
  --select-class io.grad4j.cuda.CudaProbeTest \
  --select-class io.grad4j.cuda.CudaBackendGpuTest \
  --select-class io.grad4j.cuda.CudaConformanceTest \
  --select-class io.grad4j.cuda.CudaAutogradTest \
  --select-class io.grad4j.cuda.CudaTrainingTest \
  --select-class io.grad4j.cuda.CudaCheckpointTest \
  --select-class io.grad4j.cuda.CudaOutOfMemoryTest \
  --select-class io.grad4j.cuda.CudaBadInputTest \
  --select-class io.grad4j.cuda.CudaConcurrencyTest \
  --select-class io.grad4j.cuda.CudaFuzzTest \
  --fail-if-no-tests
grep -E "\[X\]" "$out/suites.log" | head -40 | sed 's/^/  FAILED: /'

cli=("$java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Djava.io.tmpdir="$tmpdir"
     -Dgrad4j.cuda.gemm="${GRAD4J_CUDA_GEMM:-auto}" -cp "$cp" io.grad4j.examples.Grad4jCli)
step "grad4j info" info.log 12 30 "${cli[@]}" info --backend cuda
step "grad4j gradcheck on cuda" gradcheck.log 10 60 "${cli[@]}" gradcheck --backend cuda
step "grad4j train on cuda" train.log 16 90 "${cli[@]}" train --backend cuda --no-progress --out "$out/run-cuda"
step "same run twice: identical" determinism.log 3 90 bash -c '
  "${@:2}" train --backend cuda --epochs 3 --no-progress --out "$1/d1" >/dev/null &&
  "${@:2}" train --backend cuda --epochs 3 --no-progress --out "$1/d2" >/dev/null &&
  cmp <(cut -d, -f1-4 "$1/d1/metrics.csv") <(cut -d, -f1-4 "$1/d2/metrics.csv") &&
  echo "two cuda runs: identical losses and accuracies"' _ "$out" "${cli[@]}"
step "device memory flat per epoch" memory.log 8 90 bash -c '
  "${@:2}" train --backend cuda --epochs 4 --no-progress --verbose --out "$1/mem" > "$1/mem.txt" &&
  grep "memory:" "$1/mem.txt" && test "$(grep "memory:" "$1/mem.txt" | tail -n +2 | sort -u | wc -l)" = 1 &&
  echo "in-use, cached and peak device bytes equal from epoch 2 on"' _ "$out" "${cli[@]}"

if [[ "${SKIP_MEMCHECK:-0}" != 1 ]]; then
  if command -v compute-sanitizer >/dev/null 2>&1; then
    left=$(( 285 - ($(date +%s) - t0) ))
    (( left > 120 )) && left=120
    step "memcheck CudaBackendGpuTest" memcheck.log 25 "$left" compute-sanitizer --tool memcheck \
      --error-exitcode 99 --print-limit 50 \
      "$java" "${jvm[@]}" -Dgrad4j.cuda.gemm=builtin -jar "$console" execute \
      --class-path "$cp" --disable-banner --disable-ansi-colors --details=tree --details-theme=ascii \
      --reports-dir "$out/junit-memcheck" \
      --select-class io.grad4j.cuda.CudaBackendGpuTest --fail-if-no-tests
      left=$(( 285 - ($(date +%s) - t0) ))
    (( left > 60 )) && left=60
    step "racecheck CudaBackendGpuTest" racecheck.log 6 "$left" compute-sanitizer --tool racecheck \
      --error-exitcode 99 --print-limit 50 \
      "$java" "${jvm[@]}" -Dgrad4j.cuda.gemm=builtin -jar "$console" execute \
      --class-path "$cp" --disable-banner --disable-ansi-colors --details=summary \
      --select-class io.grad4j.cuda.CudaBackendGpuTest --fail-if-no-tests
  else
    names+=("memcheck"); results+=("SKIPPED: compute-sanitizer not on PATH")
  fi
fi

# speed beside PyTorch on the same GPU (issue: CUDA performance); PERF=0 skips it
if [[ "${PERF:-1}" != 0 ]] && command -v python3 >/dev/null 2>&1; then
  step "PyTorch train on cuda (peer)" torch-train.log 4 60 python3 benchmarks/peers/pytorch_train.py --device cuda
  step "PyTorch workloads on cuda (peer)" torch-bench.log 40 90 python3 benchmarks/peers/pytorch_bench.py \
    --device cuda --quick --batches 128,8192 --sizes 1024,4096,8192 --elements 67108864
  left=$(( 290 - ($(date +%s) - t0) ))
  if (( left > 40 )); then
    step "JMH on cuda" jmh.log 30 "$left" "$java" "${jvm[@]}" -cp "$cp" org.openjdk.jmh.Main \
      "MlpTrainStep|Matmul|Elementwise" -p backend=cuda -p batch=128,8192 -p n=1024,4096,8192 -p size=67108864 \
      -wi 2 -i 3 -w 1 -r 1 -f 1 -jvm "$root/$java" -rf json -rff "$out/jmh-cuda.json"
  else
    names+=("JMH on cuda"); results+=("SKIPPED: only ${left}s left of the 5-minute budget")
  fi
fi

echo
echo "=== grad4j gpu-check summary ($(( $(date +%s) - t0 ))s; logs in $out) ==="
[[ -f .gpu/MANIFEST.txt ]] && head -1 .gpu/MANIFEST.txt
grep -h -E "(tests|containers) (successful|failed|skipped|aborted)" "$out/suites.log" 2>/dev/null | sed 's/^/  suites: /'
status=0
for i in "${!names[@]}"; do
  printf '  %-30s %s\n' "${names[$i]}" "${results[$i]}"
  [[ "${results[$i]}" == PASS* || "${results[$i]}" == SKIPPED* ]] || status=1
done
if grep -q "no usable CUDA GPU here" "$out/suites.log" 2>/dev/null; then
  echo "  NOTE: the GPU test classes were skipped: $(grep -o 'no usable CUDA GPU here: .*' "$out/suites.log" | head -1)"
  status=1
fi
echo "  overall: $([[ $status == 0 ]] && echo PASS || echo FAIL)"
tar czf "$dest/gpu-check-logs.tgz" -C "$out" . && echo "  logs: $dest/gpu-check-logs.tgz"
exit $status
