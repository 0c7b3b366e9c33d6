#!/usr/bin/env bash
# Builds .gpu/ (git-ignored) at the repository root: everything scripts/gpu-check.sh needs on a
# GPU machine that has a CUDA driver but no Java and no Maven, in under 58 MB (53 MB now; it travels in a
# 64 MiB limit):
#   .gpu/jdk/   a jlink'd JDK 25 runtime (java.base, java.logging, jdk.unsupported, java.management,
#               java.xml for the launcher's JUnit XML reports)
#   .gpu/lib/   grad4j-core (+ its test jar: the conformance suites), grad4j-cuda-backend (+ test
#               classes), JCuda + JCublas with their linux-x86_64 natives (the driver and runtime
#               bindings only: JCuda's 24 MB PTX-compiler binding is dropped), and the JUnit
#               console launcher (platform 1.14.1 = Jupiter 5.14.1); the grad4j command line
#               (examples jar with the shipped digits, picocli, the cpu backend jar, whose
#               OpenBLAS is absent there so it falls back to Java loops).
# Nothing from ND4J. Run here from anywhere: scripts/gpu-bundle.sh
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export JAVA_HOME="${JAVA_HOME_25:-/usr/lib/jvm/temurin-25-jdk-amd64}"
export PATH="$JAVA_HOME/bin:$PATH"
m2="${M2_REPO:-$HOME/.m2/repository}"
ver=0.1.0-SNAPSHOT
jcuda=12.6.0
junitPlatform=1.14.1
limit_mb=58

echo "gpu-bundle: building grad4j (cuda-backend jar + test jar, cpu-backend, examples)"
mvn -B -q -o -pl core,cpu-backend,cuda-backend,examples,benchmarks install -DskipTests

console="$m2/org/junit/platform/junit-platform-console-standalone/$junitPlatform/junit-platform-console-standalone-$junitPlatform.jar"
if [[ ! -f "$console" ]]; then
  mvn -B -q dependency:get -Dartifact=org.junit.platform:junit-platform-console-standalone:$junitPlatform
fi

rm -rf .gpu
mkdir -p .gpu/lib
echo "gpu-bundle: jlink runtime"
jlink --add-modules java.base,java.logging,jdk.unsupported,java.management,java.xml \
  --strip-debug --no-header-files --no-man-pages --compress zip-6 --output .gpu/jdk
# Temurin's libjvm.so keeps its full symbol table (5 of its 30 MB); the runtime needs only the
# dynamic symbols, which strip keeps (a crash report then names fewer native frames). That leaves
# room under the limit below for the kernels to grow: without it the bundle was 57.6 of 58 MB.
if command -v strip >/dev/null 2>&1; then
  strip --strip-unneeded .gpu/jdk/lib/server/libjvm.so
  .gpu/jdk/bin/java -version >/dev/null 2>&1 || { echo "ERROR: the runtime does not start after stripping libjvm.so" >&2; exit 1; }
fi

cp "$m2/io/grad4j/grad4j-core/$ver/grad4j-core-$ver.jar" \
   "$m2/io/grad4j/grad4j-core/$ver/grad4j-core-$ver-tests.jar" \
   cuda-backend/target/grad4j-cuda-backend-$ver.jar \
   cuda-backend/target/grad4j-cuda-backend-$ver-tests.jar \
   cpu-backend/target/grad4j-cpu-backend-$ver.jar \
   examples/target/grad4j.jar \
   examples/target/lib/progressbar-*.jar examples/target/lib/jline-terminal-*.jar examples/target/lib/jline-native-*.jar \
   benchmarks/target/grad4j-benchmarks-$ver.jar \
   "$m2/org/openjdk/jmh/jmh-core/1.37/jmh-core-1.37.jar" \
   "$m2/net/sf/jopt-simple/jopt-simple/5.0.4/jopt-simple-5.0.4.jar" \
   "$m2/org/apache/commons/commons-math3/3.6.1/commons-math3-3.6.1.jar" \
   "$m2/info/picocli/picocli/4.7.7/picocli-4.7.7.jar" \
   "$m2/org/jcuda/jcuda/$jcuda/jcuda-$jcuda.jar" \
   "$m2/org/jcuda/jcublas/$jcuda/jcublas-$jcuda.jar" \
   "$m2/org/jcuda/jcublas-natives/$jcuda/jcublas-natives-$jcuda-linux-x86_64.jar" \
   "$console" \
   .gpu/lib/

# JCuda loads natives from /lib/lib<Name>-12.6.0-linux-x86_64.so on the classpath; keep the two it
# needs (driver API, runtime) and drop the PTX compiler and NVRTC bindings (25 MB unpacked).
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && jar xf "$m2/org/jcuda/jcuda-natives/$jcuda/jcuda-natives-$jcuda-linux-x86_64.jar" \
   lib/libJCudaDriver-$jcuda-linux-x86_64.so lib/libJCudaRuntime-$jcuda-linux-x86_64.so)
jar cf .gpu/lib/jcuda-natives-$jcuda-linux-x86_64-slim.jar -C "$tmp" lib

# what produced this bundle, for the check's log
{
  echo "built $(date -u +%FT%TZ) on $(hostname) from $(git rev-parse --short HEAD)$(git diff --quiet || echo ' (dirty)')"
  java -version 2>&1 | head -1
  (cd .gpu/lib && sha256sum *.jar)
} > .gpu/MANIFEST.txt

size_kb=$(du -sk .gpu | cut -f1)
echo "gpu-bundle: .gpu is $((size_kb / 1024)) MB ($(du -sh .gpu/jdk | cut -f1) runtime, $(du -sh .gpu/lib | cut -f1) jars)"
if (( size_kb > limit_mb * 1024 )); then
  echo "ERROR: .gpu is over ${limit_mb} MB; it must fit the 64 MiB transfer limit" >&2
  exit 1
fi
