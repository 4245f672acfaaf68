"""The prepared GPU run (benchmarks/device/): the scripts parse and name files that exist.

The run itself needs a GPU machine; ``DEVICE=cpu QUICK=1 bash
benchmarks/device/check.sh`` tries it on a CPU (benchmarks/device/README.md).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEVICE = ROOT / "benchmarks" / "device"


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
@pytest.mark.parametrize("script", ["check.sh", "prepare.sh"])
def test_the_scripts_parse(script: str) -> None:
    res = subprocess.run(["bash", "-n", str(DEVICE / script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_every_file_the_check_runs_exists() -> None:
    text = (DEVICE / "check.sh").read_text()
    named = set(re.findall(r"\b((?:tests|benchmarks)/[\w/.-]+\.py)\b", text))
    assert {"benchmarks/bench_flower.py", "benchmarks/bench_learn.py"} <= named
    missing = sorted(p for p in named if not (ROOT / p).is_file())
    assert not missing, missing


def test_the_wheel_list_pins_every_package() -> None:
    lines = [
        line.strip()
        for line in (DEVICE / "wheels.txt").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    bad = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+-]+", line)]
    assert lines and not bad, bad
    names = [line.split("==")[0].lower().replace("_", "-") for line in lines]
    assert len(names) == len(set(names)), "a package listed twice stops the install"
    assert {"pydantic", "flwr", "ray"} <= set(names)
