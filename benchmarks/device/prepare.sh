#!/usr/bin/env bash
# Download, here (where pip reaches PyPI), the wheels that benchmarks/device/check.sh
# installs on a GPU machine without internet: every package of wheels.txt, without its
# dependencies (wheels.txt lists them), for CPython $1 (default 3.12, the GPU image's) on
# x86-64 Linux, into .whl/ at the repository's root (git-ignored). Ray's Java jars (32 MB
# of its 74 MB wheel, unused by Python) are dropped and the large wheels recompressed with
# LZMA so that the folder travels within the device tool's 64 MiB (51 MiB; about 3 minutes).
# Usage: bash benchmarks/device/prepare.sh [PYTHON_VERSION]
set -euo pipefail
cd "$(dirname "$0")/../.."
py="${1:-3.12}"
dest=.whl
rm -rf "$dest"
mkdir -p "$dest"
platforms=()
for p in manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 \
  manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
  platforms+=(--platform "$p")
done
specs=$(grep -v '^[[:space:]]*#' benchmarks/device/wheels.txt | grep -v '^[[:space:]]*$')
# shellcheck disable=SC2086
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version "$py" \
  --implementation cp "${platforms[@]}" -d "$dest" $specs
python3 - "$dest" <<'PY'
"""Drop ray/jars/ from Ray's wheel; recompress every wheel over 1 MiB with LZMA.

pip reads LZMA members (zipfile does); the file modes are kept, so Ray's
binaries stay executable. About 30 % smaller than the wheels' deflate.
"""
import pathlib
import sys
import zipfile

for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    if wheel.stat().st_size < 2**20:
        continue
    slim = wheel.with_suffix(".slim")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(slim, "w", zipfile.ZIP_LZMA) as out:
        for info in src.infolist():
            if not info.filename.startswith("ray/jars/"):
                out.writestr(info, src.read(info), compress_type=zipfile.ZIP_LZMA)
    print(f"{wheel.name}: {wheel.stat().st_size / 2**20:.1f} -> {slim.stat().st_size / 2**20:.1f} MiB")
    slim.replace(wheel)
PY
count=$(find "$dest" -name '*.whl' | wc -l)
echo "$count wheels in $dest ($(du -sh "$dest" | cut -f1)); carry it: run(carry=[\"$dest\"])"
