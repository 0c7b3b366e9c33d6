#!/usr/bin/env bash
# Runs grad4j's CUDA checks on a GPU machine, from the repository root, with .gpu/ built by
# scripts/gpu-bundle.sh (no Java or Maven needed there). Ends within 5 minutes.
#   1. nvidia-smi
#   2. the conformance, autograd and training suites plus the primitive-level GPU test on cuda
#      (-Dgrad4j.backend=cuda) through the JUnit console launcher
#   3. grad4j info, gradcheck and the default train on cuda (the command line users run), and on
#      cpu beside it; the same training on cuda with the default matrix engine (cuBLAS where it
#      loads; within 0.5 points of cpu) and with TF32 through cuBLAS; the same short training
#      twice (identical metrics); device memory per epoch (flat after epoch 1)
#   4. compute-sanitizer memcheck and racecheck over the primitive-level test class
#   5. speed beside PyTorch on the same GPU (issue #7): the PyTorch workload peer (TF32 off and on),
#      JMH on cuda (elementwise, NN/NT/TN matmul, MLP step, tiny op; then matmul again with
#      -Dgrad4j.cuda.tf32=true, through cuBLAS with and without TF32, the MLP step with cuBLAS as
#      the matrix engine, and the launch-bound ones with JCuda's kernel launch),
#      the PyTorch training peer, and benchmarks/peers/gpu_report.py's
#      tables of ratios against the issue's targets (MET / NOT MET)
#   6. a pass/fail table, then the issue #7 tables (also written to $OUT/issue7-report.md)
# Logs, JUnit XML and the JMH and PyTorch JSON are packed into $OUT/gpu-check-logs.tgz (.gpu-out/
# when OUT is unset).
# Exit status 0 only when all pass.
# Options: GRAD4J_CUDA_GEMM=builtin|cublas|auto (default builtin: the kernels issues #7 and #10 measure;
# cuBLAS has its own test, CudaGemmGpuTest.cublasEveryLayoutBatchedAndShared, and JMH step), SKIP_MEMCHECK=1, PERF=0,
# GRAD4J_CUDA_LAUNCHER=auto|native|jcuda (default auto: the native kernel launcher, JCuda's if it fails its start-up check).
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
     -Djava.io.tmpdir="$tmpdir" -Dgrad4j.backend=cuda -Dgrad4j.cuda.gemm="${GRAD4J_CUDA_GEMM:-builtin}"
     -Dgrad4j.cuda.launcher="${GRAD4J_CUDA_LAUNCHER:-auto}")
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
  # JMH exits 0 when a benchmark throws (it goes on with the next parameters, which we want: -foe
  # would lose them), printing <failure> and the exception; such a step is not a pass
  local failures
  failures=$(grep -c "<failure>" "$out/$log")
  if [[ "$verdict" == PASS && "$failures" -gt 0 ]]; then verdict="FAIL($failures benchmark runs threw; see the log)"; fi
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
  --select-class io.grad4j.cuda.CudaGemmGpuTest \
  --select-class io.grad4j.cuda.CudaGraphGpuTest \
  --fail-if-no-tests
grep -E "\[X\]" "$out/suites.log" | head -40 | sed 's/^/  FAILED: /'

cli=("$java" --enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Djava.io.tmpdir="$tmpdir"
     -Dgrad4j.cuda.gemm="${GRAD4J_CUDA_GEMM:-builtin}" -Dgrad4j.cuda.launcher="${GRAD4J_CUDA_LAUNCHER:-auto}"
     -cp "$cp" io.grad4j.examples.Grad4jCli)
step "grad4j info" info.log 12 30 "${cli[@]}" info --backend cuda
step "grad4j gradcheck on cuda" gradcheck.log 10 60 "${cli[@]}" gradcheck --backend cuda
step "grad4j train on cuda" train.log 16 90 "${cli[@]}" train --backend cuda --no-progress --out "$out/run-cuda"
# the same training on cpu, on this machine (Java loops: the bundle carries no OpenBLAS): issue #7's
# end-to-end target compares the final accuracies and reports seconds per epoch side by side
step "grad4j train on cpu (beside cuda)" train-cpu.log 3 120 "${cli[@]}" train --backend cpu --no-progress \
  --out "$out/run-cpu"
# what a user gets without setting anything: grad4j.cuda.gemm=auto takes cuBLAS where it loads
# (libcublas.so.13 on these machines); its final test accuracy must be within 0.5 points of cpu's,
# as the builtin kernels' is. The same with TF32 allowed must train, its accuracy is reported only
# (TF32 rounds the GEMMs' inputs to 10 mantissa bits). A function, so that timeout can run it
# through bash -c.
train_default_engine() {
  local run tf32 auto_acc cpu_acc status=0
  local jvm_flags=(--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Djava.io.tmpdir="$tmpdir"
                   -Dgrad4j.cuda.launcher="${GRAD4J_CUDA_LAUNCHER:-auto}")
  for run in auto auto-tf32; do
    tf32=false; [[ $run == auto-tf32 ]] && tf32=true
    if ! "$java" "${jvm_flags[@]}" -Dgrad4j.cuda.gemm=auto -Dgrad4j.cuda.tf32=$tf32 -cp "$cp" io.grad4j.examples.Grad4jCli \
        train --backend cuda --no-progress --out "$out/run-$run" > "$out/train-$run.txt" 2>&1; then
      echo "$run: training failed; the end of its output:"; tail -n 20 "$out/train-$run.txt"
      status=1; continue
    fi
    echo "$run: $(grep -o "matmul engine .*, kernel launches" "$out/train-$run.txt" | head -1 | sed 's/, kernel launches$//')"
    tail -n 1 "$out/train-$run.txt"
    [[ $run == auto ]] || continue
    auto_acc=$(tail -n 1 "$out/run-auto/metrics.csv" | cut -d, -f4)
    cpu_acc=$(tail -n 1 "$out/run-cpu/metrics.csv" 2>/dev/null | cut -d, -f4)
    if [[ ! "$cpu_acc" =~ ^[0-9.]+$ || ! "$auto_acc" =~ ^[0-9.]+$ ]]; then
      echo "cannot compare: default-engine accuracy '$auto_acc', cpu accuracy '$cpu_acc' (did the cpu step finish?)"
      status=1; continue
    fi
    awk -v a="$auto_acc" -v c="$cpu_acc" 'BEGIN { d = (a - c) * 100; if (d < 0) d = -d
      printf "default-engine run vs cpu: test accuracy %s vs %s, %.2f points apart (limit 0.5)\n", a, c, d; exit (d > 0.5) }' ||
      status=1
  done
  return $status
}
export -f train_default_engine
export out cp java tmpdir
step "train on cuda, default engine (cuBLAS)" train-cublas.log 6 60 bash -c train_default_engine
step "same run twice: identical" determinism.log 3 90 bash -c '
  "${@:2}" train --backend cuda --epochs 3 --no-progress --out "$1/d1" >/dev/null &&
  "${@:2}" train --backend cuda --epochs 3 --no-progress --out "$1/d2" >/dev/null &&
  cmp <(cut -d, -f1-4 "$1/d1/metrics.csv") <(cut -d, -f1-4 "$1/d2/metrics.csv") &&
  echo "two cuda runs: identical losses and accuracies"' _ "$out" "${cli[@]}"
# the opt-in CUDA graph replays the same kernels in the same order: the same metrics as the eager d1 run
step "train --cuda-graph = eager" cuda-graph.log 4 90 bash -c '
  "${@:2}" train --backend cuda --epochs 3 --no-progress --cuda-graph --verbose --out "$1/g1" > "$1/g1.txt" &&
  grep -E "activity|epoch" "$1/g1.txt" &&
  cmp <(cut -d, -f1-4 "$1/d1/metrics.csv") <(cut -d, -f1-4 "$1/g1/metrics.csv") &&
  echo "cuda graph run: identical losses and accuracies to the eager run"' _ "$out" "${cli[@]}"
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

# speed beside PyTorch on the same GPU (issue #7: CUDA performance); PERF=0 skips it. Order: the
# PyTorch references, then grad4j's JMH runs (split in four so that a timeout loses one part, each
# writing its own JSON), the PyTorch training peer, and the issue #7 report from all of them.
# Expected times, from the H200 runs (JMH: about 2 s per fork to start the JVM and CUDA and set up,
# plus 5 iterations of 0.5 s, longer where 4 calls exceed 0.5 s: 8192^3 fp32 on the builtin GEMM is
# 93 ms a call): PyTorch workloads ~20-25 s; elementwise 4 forks ~18 s; fp32 matmul 9 forks
# (3 sizes x NN/NT/TN) ~45 s; MLP, tiny op and optimizer step 10 forks ~40 s; TF32 matmul 9 forks
# with one warm-up ~35 s; cuBLAS matmul 3 forks ~12 s; PyTorch train ~12 s; kernel profile 2 forks
# ~8 s; JCuda launch 3 forks ~12 s; report 1 s. Measured at 9ae3e22 (2026-11-27, H200): 98 s of
# checks (40 of them the cpu training on Java loops, since made parallel), then 164 s of speed
# steps, 263 s in all. At c4dbd5a, with the default-engine trainings (6 s), cuBLAS TF32 matmul
# (12 s) and the MLP step on cuBLAS (9 s) added: 278 s, and the last two steps (the kernel
# profile and JCuda's launch, both diagnostic) were skipped for time. They are the ones skipped
# first when time runs short.
# Each step's limit is cut to what is left of the 5 minutes (less 20 s kept for the report), and a
# step that would get less than it needs is skipped and says so.
if [[ "${PERF:-1}" != 0 ]] && command -v python3 >/dev/null 2>&1; then
  perf_step() { # name, log file, lines of the log to show, limit wanted, least useful limit, command...
    local name="$1" log="$2" show="$3" want="$4" need="$5"; shift 5
    local left=$(( 280 - ($(date +%s) - t0) ))
    (( left > want )) && left=$want
    if (( left < need )); then
      names+=("$name"); results+=("SKIPPED: only ${left}s left of the 5-minute budget")
      return
    fi
    step "$name" "$log" "$show" "$left" "$@"
  }
  jmh=("$java" "${jvm[@]}" -cp "$cp" org.openjdk.jmh.Main)
  # forks inherit the launcher's JVM flags (-Dgrad4j.backend, -Dgrad4j.cuda.gemm); short iterations
  # suffice: a kernel is microseconds to 100 ms, a 500 ms iteration is 5 to 10^5 calls. Matmul and
  # the memory-bound ops run 4 operations per synchronize on both sides (-p calls=4, --calls 4), so
  # the wait for the device is a quarter of an operation's time, not a whole one, on each side.
  # (jopt-simple refuses an option given twice: -wi is set per step)
  jmh_opts=(-p backend=cuda -f 1 -jvm "$root/$java" -w 500ms -i 3 -r 500ms)
  sizes=1024,4096,8192
  perf_step "PyTorch workloads on cuda (peer)" torch-bench.log 8 75 20 python3 benchmarks/peers/pytorch_bench.py \
    --device cuda --quick --batches 128,8192 --sizes "$sizes" --layouts NN,NT,TN --tf32 --bandwidth \
    --calls 4 --elements 67108864 --out "$out/pytorch-bench.json"
  perf_step "JMH elementwise on cuda" jmh-elementwise.log 8 50 25 "${jmh[@]}" ElementwiseBenchmark \
    "${jmh_opts[@]}" -wi 2 -p size=67108864 -p calls=4 -rf json -rff "$out/jmh-elementwise.json"
  perf_step "JMH matmul on cuda" jmh-matmul.log 13 90 50 "${jmh[@]}" MatmulBenchmark \
    "${jmh_opts[@]}" -wi 2 -p n="$sizes" -p layout=NN,NT,TN -p calls=4 -rf json -rff "$out/jmh-matmul.json"
  perf_step "JMH MLP, tiny op, optimizer step on cuda" jmh-mlp.log 10 80 25 "${jmh[@]}" \
    "MlpTrainStepBenchmark|OpOverheadBenchmark|OptimizerStepBenchmark" \
    "${jmh_opts[@]}" -wi 2 -p batch=128,8192 -p graph=false,true -rf json -rff "$out/jmh-mlp-overhead.json"
  # the opt-in TF32 matmul: the property is read when the cuda backend is created (in the fork);
  # -jvmArgsAppend replaces the benchmarks' own appended flags, so it repeats the ones cuda needs
  perf_step "JMH matmul TF32 on cuda" jmh-matmul-tf32.log 13 70 40 "${jmh[@]}" MatmulBenchmark \
    "${jmh_opts[@]}" -wi 1 -p n="$sizes" -p layout=NN,NT,TN -p calls=4 \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dgrad4j.cuda.tf32=true" \
    -rf json -rff "$out/jmh-matmul-tf32.json"
  # matmul through cuBLAS (JCublas2, or libcublas.so.13 called directly): what grad4j adds over raw cuBLAS
  perf_step "JMH matmul via cuBLAS" jmh-matmul-cublas.log 8 40 25 "${jmh[@]}" MatmulBenchmark \
    "${jmh_opts[@]}" -wi 1 -p n="$sizes" -p layout=NN -p calls=4 \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dgrad4j.cuda.gemm=cublas" \
    -rf json -rff "$out/jmh-matmul-cublas.json"
  # TF32 through cuBLAS (cuBLAS's TF32 tensor-op math): the fast TF32 choice where cuBLAS is installed
  perf_step "JMH matmul via cuBLAS, TF32" jmh-matmul-cublas-tf32.log 8 40 25 "${jmh[@]}" MatmulBenchmark \
    "${jmh_opts[@]}" -wi 1 -p n="$sizes" -p layout=NN -p calls=4 \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dgrad4j.cuda.gemm=cublas -Dgrad4j.cuda.tf32=true" \
    -rf json -rff "$out/jmh-matmul-cublas-tf32.json"
  # the MLP step with cuBLAS as the matrix engine: what a user gets by default where cuBLAS loads
  perf_step "JMH MLP step via cuBLAS" jmh-mlp-cublas.log 4 30 15 "${jmh[@]}" MlpTrainStepBenchmark \
    "${jmh_opts[@]}" -wi 2 -p batch=128,8192 -p graph=false \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dgrad4j.cuda.gemm=cublas" \
    -rf json -rff "$out/jmh-mlp-cublas.json"
  perf_step "PyTorch train on cuda (peer)" torch-train.log 4 40 15 python3 benchmarks/peers/pytorch_train.py --device cuda
  # where the MLP step's device time goes, kernel by kernel (stream events around each launch;
  # the step's own time is measured without them above)
  perf_step "MLP step kernel profile" jmh-profile.log 0 30 15 "${jmh[@]}" MlpTrainStepBenchmark \
    "${jmh_opts[@]}" -wi 1 -p batch=128,8192 -p graph=false \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dgrad4j.bench.profileKernels=true"
  grep -A 24 "GPU time per kernel" "$out/jmh-profile.log" 2>/dev/null | grep -v "^#" | head -60
  # last, so that it is the step skipped when time runs short: the launch-bound workloads again
  # with JCuda's kernel launch path instead of the default
  # (cuLaunchKernel through the foreign-function API): what the native launcher saves per launch
  perf_step "JMH launch-bound, JCuda launch" jmh-jcuda-launch.log 6 35 20 "${jmh[@]}" \
    "MlpTrainStepBenchmark|OpOverheadBenchmark" "${jmh_opts[@]}" -wi 2 -p batch=128 -p graph=false \
    -jvmArgsAppend "--enable-native-access=ALL-UNNAMED --sun-misc-unsafe-memory-access=allow -Dgrad4j.cuda.launcher=jcuda" \
    -rf json -rff "$out/jmh-jcuda-launch.json"
  step "issue #7 report" report.log 0 20 python3 benchmarks/peers/gpu_report.py \
    --jmh "$out/jmh-elementwise.json" --jmh "$out/jmh-matmul.json" --jmh "$out/jmh-mlp-overhead.json" \
    --jmh-tf32 "$out/jmh-matmul-tf32.json" --jmh-cublas "$out/jmh-matmul-cublas.json" \
    --jmh-cublas-tf32 "$out/jmh-matmul-cublas-tf32.json" \
    --jmh-mlp-cublas "$out/jmh-mlp-cublas.json" \
    --jmh-jcuda-launch "$out/jmh-jcuda-launch.json" --torch "$out/pytorch-bench.json" \
    --log "$out/jmh-elementwise.log" --log "$out/jmh-matmul.log" --log "$out/jmh-mlp.log" \
    --log "$out/jmh-matmul-tf32.log" --log "$out/jmh-matmul-cublas.log" --log "$out/jmh-matmul-cublas-tf32.log" --log "$out/jmh-mlp-cublas.log" --log "$out/jmh-jcuda-launch.log" --sizes "$sizes" --batches 128,8192 \
    --train-cuda "$out/run-cuda/metrics.csv" --train-cpu "$out/run-cpu/metrics.csv" \
    --train-reference runs/latest/metrics.csv --out "$out/issue7-report.md"
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
if [[ -s "$out/issue7-report.md" ]]; then
  echo; cat "$out/issue7-report.md"
  cp "$out/issue7-report.md" "$dest/"
elif [[ -s "$out/report.log" ]]; then
  echo; tail -n 5 "$out/report.log"
fi
tar czf "$dest/gpu-check-logs.tgz" -C "$out" . && echo "  logs: $dest/gpu-check-logs.tgz"
exit $status
