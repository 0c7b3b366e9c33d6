#!/usr/bin/env bash
# Runs grad4j's JMH benchmarks and the PyTorch peer side by side, in one run on this machine, and
# writes the table of ratios into docs/benchmarks.md (replacing the previous "Latest comparison").
#
#   benchmarks/compare.sh            # build, run both, write docs/benchmarks.md
#   QUICK=1 benchmarks/compare.sh    # shorter JMH iterations (noisier)
#
# The peer is Debian's python3-torch run by /usr/bin/python3 with OpenBLAS (OpenMP build) chosen
# as the system BLAS and 2 threads set explicitly (torch sees one core on these VMs otherwise), in
# PyTorch's default OpenMP wait policy.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export JAVA_HOME="${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export PATH="$JAVA_HOME/bin:$PATH"
out="$root/benchmarks/target/compare"
mkdir -p "$out"

if ! /usr/bin/python3 -c 'import torch' 2>/dev/null; then
  echo "compare: installing Debian's python3-torch and libopenblas0-openmp"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch libopenblas0-openmp >/dev/null
fi
blas=/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3
if [ -e "$blas" ]; then
  update-alternatives --set libblas.so.3-x86_64-linux-gnu "$blas" >/dev/null 2>&1 || true
fi

echo "compare: building"
./mvnw -B -q install -DskipTests

if [ "${QUICK:-0}" = 1 ]; then jmh_opts=(-wi 3 -i 5 -w 1 -r 1); else jmh_opts=(-wi 5 -i 10 -w 1 -r 1); fi
echo "compare: JMH (grad4j, cpu)"
java -jar benchmarks/target/benchmarks.jar "MlpTrainStep|Matmul|ElementwiseBenchmark.tanh|OpOverhead|OptimizerStep" "${jmh_opts[@]}" \
  -rf json -rff "$out/jmh.json" | tee "$out/jmh.log" | grep -E "^(Benchmark|[A-Z][A-Za-z]+Benchmark\.)"
echo "compare: PyTorch peer"
# the peer runs as PyTorch runs by default: an inherited OMP_WAIT_POLICY=passive (which compare.sh
# once exported for ND4J) makes PyTorch's OpenMP threads sleep between parallel regions, which
# slowed its MLP step at batch 128 by about 40% and its SGD step 3x in a side-by-side run
env -u OMP_WAIT_POLICY /usr/bin/python3 benchmarks/peers/pytorch_bench.py --device cpu --threads 2 | tee "$out/pytorch.json"

/usr/bin/python3 benchmarks/peers/report.py "$out/jmh.json" "$out/pytorch.json" docs/benchmarks.md \
  "$(git rev-parse --short HEAD)$(git diff --quiet || echo '-dirty')" \
  "java -jar benchmarks/target/benchmarks.jar 'MlpTrainStep|Matmul|ElementwiseBenchmark.tanh|OpOverhead|OptimizerStep' ${jmh_opts[*]}; env -u OMP_WAIT_POLICY /usr/bin/python3 benchmarks/peers/pytorch_bench.py --device cpu --threads 2"
echo "compare: wrote docs/benchmarks.md"
