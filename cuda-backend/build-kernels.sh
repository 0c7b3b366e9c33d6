#!/usr/bin/env bash
# Rebuilds the committed kernel binary when its CUDA source changed.
#
#   src/main/cuda/grad4j_kernels.cu             the source
#   src/main/cuda/grad4j_kernels.cu.sha256      hash of the source the committed fatbin was built from
#   src/main/resources/io/grad4j/cuda/grad4j_kernels.fatbin(.sha256)   the binary the backend loads
#   src/main/cuda/ptxas-report.txt              ptxas -v output (registers, spills) of that build
#   src/main/cuda/sass-report.txt               per-kernel instruction mix of the machine code
#                                               (sass_summary.py; SassReportTest checks it)
#
# Source unchanged: does nothing (no nvcc needed). Source changed and nvcc present: rebuilds all
# of the above. Source changed and no nvcc: fails, because the fatbin would no longer match.
# --force rebuilds regardless; --sass rewrites only sass-report.txt. Runs from any directory;
# Maven calls it in generate-resources.
#
# The SASS comes from cuobjdump: $CUOBJDUMP, else cuobjdump on PATH, else the one in Debian's
# nvidia-cuda-toolkit 12.4 package (non-free), fetched once by its pinned sha256 into
# ~/.cache/grad4j (this build machine has nvcc but no cuobjdump; 12.4 reads nvcc 13's sm_80 and
# sm_90 code).
set -euo pipefail
shopt -s inherit_errexit # a failing step inside $(...) stops the script too
here="$(cd "$(dirname "$0")" && pwd)"
src="$here/src/main/cuda/grad4j_kernels.cu"
srcHash="$here/src/main/cuda/grad4j_kernels.cu.sha256"
out="$here/src/main/resources/io/grad4j/cuda/grad4j_kernels.fatbin"
report="$here/src/main/cuda/ptxas-report.txt"
NVCC="${NVCC:-nvcc}"
# sm_80 and sm_90 machine code, plus compute_90 PTX the driver can JIT for newer GPUs.
GENCODE=(-gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90)

sassReport="$here/src/main/cuda/sass-report.txt"
DEB_URL="http://deb.debian.org/debian/pool/non-free/n/nvidia-cuda-toolkit/nvidia-cuda-toolkit_12.4.131~12.4.1-2_amd64.deb"
DEB_SHA256="cd5fe85aee38d108b315f408a688641478f2402622a10c677478eb7a6c4e5319"

# Prints the path of a cuobjdump, fetching Debian's when none is installed.
find_cuobjdump() {
  if [[ -n "${CUOBJDUMP:-}" ]]; then echo "$CUOBJDUMP"; return; fi
  if command -v cuobjdump >/dev/null 2>&1; then command -v cuobjdump; return; fi
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/grad4j/cuda-tools-12.4"
  if [[ ! -x "$cache/usr/bin/cuobjdump" || ! -x "$cache/usr/bin/nvdisasm" ]]; then
    echo "build-kernels: fetching cuobjdump and nvdisasm (Debian nvidia-cuda-toolkit 12.4, an 87 MB download) into $cache" >&2
    local work
    work="$(mktemp -d)"
    curl -sSfL --retry 3 -o "$work/toolkit.deb" "$DEB_URL"
    if ! echo "$DEB_SHA256  $work/toolkit.deb" | sha256sum -c --quiet - >&2; then
      echo "ERROR: $DEB_URL does not have the pinned sha256 $DEB_SHA256" >&2
      rm -rf "$work"
      return 1
    fi
    # cuobjdump -sass runs nvdisasm, which it looks for on PATH; both go into the cache only
    # once verified and extracted whole
    dpkg-deb --fsys-tarfile "$work/toolkit.deb" | tar -x -C "$work" ./usr/bin/cuobjdump ./usr/bin/nvdisasm
    mkdir -p "$cache/usr/bin"
    mv "$work/usr/bin/cuobjdump" "$work/usr/bin/nvdisasm" "$cache/usr/bin/"
    rm -rf "$work"
  fi
  echo "$cache/usr/bin/cuobjdump"
}

write_sass_report() {
  local tool sass
  tool="$(find_cuobjdump)"
  sass="$(mktemp)"
  PATH="$(dirname "$tool"):$PATH" "$tool" -sass "$out" > "$sass"
  python3 "$here/sass_summary.py" "$sass" "$(sha256sum "$out" | cut -d' ' -f1)" \
    "cuobjdump $("$tool" --version | tail -1)" > "$sassReport"
  rm -f "$sass"
  echo "build-kernels: wrote $sassReport"
}

if [[ "${1:-}" == "--sass" ]]; then
  write_sass_report
  exit 0
fi

current="$(sha256sum "$src" | cut -d' ' -f1)"
recorded="$(cut -d' ' -f1 "$srcHash" 2>/dev/null || true)"

if [[ "${1:-}" != "--force" && "$current" == "$recorded" && -f "$out" ]]; then
  exit 0
fi

if ! command -v "$NVCC" >/dev/null 2>&1; then
  echo "ERROR: $src changed (sha256 $current, fatbin built from ${recorded:-nothing})" >&2
  echo "       but nvcc is not on PATH, so grad4j_kernels.fatbin cannot be rebuilt." >&2
  echo "       Run cuda-backend/build-kernels.sh on a machine with the CUDA toolkit (nvcc >= 12)" >&2
  echo "       and commit the .fatbin, its .sha256, the .cu.sha256, ptxas-report.txt and sass-report.txt," >&2
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
echo "build-kernels: wrote $out ($(stat -c %s "$out") bytes) and $report"
write_sass_report
# last: the source's recorded hash is what tells later runs that everything above is current
(cd "$(dirname "$src")" && sha256sum "$(basename "$src")" > "$(basename "$src").sha256")
