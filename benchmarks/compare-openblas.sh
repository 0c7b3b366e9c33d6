#!/usr/bin/env bash
# Side-by-side check of a newer OpenBLAS for the cpu backend (issue #18: "a newer OpenBLAS only if
# it measures faster side by side"). Builds the JMH jar twice, with the pinned OpenBLAS/JavaCPP
# and with the candidate, then runs the same benchmarks alternating A, B, A, B ... in one session,
# and prints each pair's ratio B/A with min/median/max.
#   benchmarks/compare-openblas.sh [candidate-openblas-version candidate-javacpp-version pairs]
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
candidate="${1:-0.3.31-1.5.13}"
candidate_javacpp="${2:-1.5.13}"
pairs="${3:-5}"
out="$root/benchmarks/target/openblas-compare"
mkdir -p "$out"
. examples/src/dist/bin/find-jdk25.sh
grad4j_find_jdk25 25
java="$GRAD4J_JAVA_HOME/bin/java"

./mvnw -B -q package -DskipTests -pl core,cpu-backend,cuda-backend,benchmarks -am
cp benchmarks/target/benchmarks.jar "$out/pinned.jar"
./mvnw -B -q package -DskipTests -pl core,cpu-backend,cuda-backend,benchmarks -am \
  -Dopenblas.version="$candidate" -Djavacpp.version="$candidate_javacpp"
cp benchmarks/target/benchmarks.jar "$out/candidate.jar"
./mvnw -B -q package -DskipTests -pl core,cpu-backend,cuda-backend,benchmarks -am   # leave the pinned build in target/

benchmarks='MlpTrainStepBenchmark.trainStep|MatmulBenchmark.matmul'
jmh=(-wi 3 -i 5 -w 1 -r 1 -f 1 -p n=256,1024 -rf csv)
for i in $(seq 1 "$pairs"); do
  for build in pinned candidate; do
    if ! "$java" -jar "$out/$build.jar" "$benchmarks" "${jmh[@]}" -rff "$out/$build-$i.csv" >"$out/$build-$i.log" 2>&1; then
      tail -20 "$out/$build-$i.log" >&2
      echo "compare-openblas: the $build run $i failed (log: $out/$build-$i.log)" >&2
      exit 1
    fi
    echo "pair $i $build done"
  done
done
python3 - "$out" "$pairs" "$candidate" <<'PY'
import csv, statistics, sys
out, pairs, candidate = sys.argv[1], int(sys.argv[2]), sys.argv[3]
def read(path):
    rows = {}
    for r in csv.DictReader(open(path)):
        params = ",".join(f"{k[7:]}={v}" for k, v in r.items() if k.startswith("Param: ") and v)
        rows[r["Benchmark"].split(".")[-2] + "(" + params + ")"] = float(r["Score"])
    return rows
ratios = {}
for i in range(1, pairs + 1):
    a, b = read(f"{out}/pinned-{i}.csv"), read(f"{out}/candidate-{i}.csv")
    if a.keys() != b.keys():
        sys.exit(f"pair {i}: the two builds ran different benchmarks: {sorted(a.keys() ^ b.keys())}")
    for k in a:
        ratios.setdefault(k, []).append(b[k] / a[k])
print(f"OpenBLAS {candidate} time / pinned time, {pairs} alternating pairs (below 1 = candidate faster)")
print("| benchmark | min | median | max |")
print("| --- | --- | --- | --- |")
for k, v in ratios.items():
    print(f"| {k} | {min(v):.3f} | {statistics.median(v):.3f} | {max(v):.3f} |")
PY
