"""The devices a test can train on here: the CPU always, CUDA where this machine has one.

Needs no PyTorch to import (a test module that runs without it stays collected).
"""

from __future__ import annotations

import pytest


def cuda_available() -> bool:
    """Whether PyTorch is installed and sees a CUDA GPU."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def cpu_and_cuda() -> list:
    """``"cpu"`` and a ``"cuda"`` case skipped where there is no CUDA GPU."""
    skip = pytest.mark.skipif(not cuda_available(), reason="no CUDA GPU here")
    return ["cpu", pytest.param("cuda", marks=skip)]
