"""Small argument checks shared by the training modules (NumPy only, no PyTorch)."""

from __future__ import annotations

import math
import numbers
from pathlib import Path
from typing import Any

from ..errors import ValidationError


def positive(field: str, value: Any) -> float:
    """``value`` as a ``float`` that is finite and ``> 0`` (not ``bool``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValidationError(field, f"must be a positive number (got {value!r})")
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValidationError(field, f"must be a positive finite number (got {value!r})")
    return v


def output_file(path: str | Path) -> Path:
    """``path`` as a file that can be written: not a directory, in a directory that exists."""
    p = Path(path)
    if p.is_dir():
        raise ValidationError(str(p), "is a directory; give a file name")
    if not p.parent.exists():
        raise ValidationError(str(p), f"directory {p.parent} does not exist")
    return p
