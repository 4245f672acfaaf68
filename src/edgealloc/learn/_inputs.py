"""Checks of the engine's inputs: model, parameters, data, tau, lr and the chunk rule.

Private to :mod:`edgealloc.learn.engine`; each raises
:class:`~edgealloc.errors.ValidationError` naming the argument (``xs[2]``,
``params['1.weight']``) and returns the value converted for the engine.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ..errors import ValidationError
from .models import ModelSpec, _template, torch


def _check_spec(spec: object) -> ModelSpec:
    if not isinstance(spec, ModelSpec):
        raise ValidationError("spec", f"must be a ModelSpec (got {type(spec).__name__})")
    return spec


def _check_params(spec: ModelSpec, params: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    if not isinstance(params, Mapping):
        raise ValidationError("params", f"must be a dict of tensors (got {type(params).__name__})")
    shapes = {name: tuple(p.shape) for name, p in _template(spec).named_parameters()}
    if set(params) != set(shapes):
        missing = sorted(set(shapes) - set(params))
        extra = sorted(set(params) - set(shapes))
        raise ValidationError(
            "params", f"names do not match the {spec.kind} (missing {missing}, unexpected {extra})"
        )
    out = {}
    for name, shape in shapes.items():
        value = torch.as_tensor(params[name]).detach().to(torch.float32)
        if tuple(value.shape) != shape:
            raise ValidationError(
                f"params[{name!r}]", f"must have shape {shape} (got {tuple(value.shape)})"
            )
        out[name] = value.contiguous()
    devices = {str(v.device) for v in out.values()}
    if len(devices) > 1:
        raise ValidationError(
            "params", f"must all be on one device (got {', '.join(sorted(devices))})"
        )
    return out


def _check_lr(lr: object) -> float:
    if (
        isinstance(lr, bool)
        or not isinstance(lr, numbers.Real)
        or not (math.isfinite(float(lr)) and float(lr) > 0)
    ):
        raise ValidationError("lr", f"must be a positive finite number (got {lr!r})")
    return float(lr)


def _check_xy(
    spec: ModelSpec, x: object, y: object, field_x: str, field_y: str
) -> tuple[np.ndarray, np.ndarray]:
    """One learner's (or a test set's) features and targets, float32 / int64 / float32."""
    try:
        xa = np.asarray(x, dtype=np.float32)
    except (TypeError, ValueError):
        raise ValidationError(field_x, "must be a numeric array") from None
    n = xa.shape[0] if xa.ndim else -1
    if n < 0:
        raise ValidationError(field_x, "must be an array of samples (got a scalar)")
    if n == 0:
        xa = xa.reshape((0, *spec.input_shape))
    elif xa.shape[1:] != spec.input_shape:
        if math.prod(xa.shape[1:]) != spec.n_features:
            raise ValidationError(
                field_x,
                f"samples must have shape {spec.input_shape} (got {tuple(xa.shape[1:])})",
            )
        xa = xa.reshape((n, *spec.input_shape))
    if not np.all(np.isfinite(xa)):
        raise ValidationError(field_x, "must be finite")
    if spec.task == "classification":
        try:
            ya = np.asarray(y)
        except (TypeError, ValueError):
            raise ValidationError(field_y, "must be an array of class labels") from None
        if ya.shape != (n,):
            raise ValidationError(field_y, f"must have shape ({n},) (got {ya.shape})")
        if n and not (np.issubdtype(ya.dtype, np.integer) or np.all(ya == np.round(ya))):
            raise ValidationError(field_y, "class labels must be integers")
        ya = ya.astype(np.int64)
        if n and (ya.min() < 0 or ya.max() >= spec.n_outputs):
            raise ValidationError(
                field_y, f"labels must lie in 0..{spec.n_outputs - 1} (got {ya.min()}..{ya.max()})"
            )
    else:
        try:
            ya = np.asarray(y, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValidationError(field_y, "must be a numeric array") from None
        if ya.shape[:1] != (n,) or ya.size != n * spec.n_outputs:
            raise ValidationError(
                field_y, f"must hold {n} targets of {spec.n_outputs} value(s) (got {ya.shape})"
            )
        ya = ya.reshape((n, spec.n_outputs))
        if not np.all(np.isfinite(ya)):
            raise ValidationError(field_y, "must be finite")
    return np.ascontiguousarray(xa), np.ascontiguousarray(ya)


def _check_learners(
    spec: ModelSpec, xs: Sequence[Any], ys: Sequence[Any]
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    if isinstance(xs, np.ndarray | str) or not isinstance(xs, Sequence):
        raise ValidationError("xs", "must be a list with one sample array per learner")
    if isinstance(ys, np.ndarray | str) or not isinstance(ys, Sequence):
        raise ValidationError("ys", "must be a list with one target array per learner")
    if len(xs) != len(ys):
        raise ValidationError("ys", f"must have one entry per learner ({len(xs)}; got {len(ys)})")
    if not xs:
        raise ValidationError("xs", "needs at least one learner")
    pairs = [
        _check_xy(spec, x, y, f"xs[{k}]", f"ys[{k}]")
        for k, (x, y) in enumerate(zip(xs, ys, strict=True))
    ]
    d = np.array([len(p[0]) for p in pairs], dtype=np.int64)
    return [p[0] for p in pairs], [p[1] for p in pairs], d


def _check_tau(tau: object, k: int) -> np.ndarray:
    try:
        arr = np.asarray(tau)
    except (TypeError, ValueError):
        raise ValidationError("tau", "must be an array of non-negative integers") from None
    if arr.shape != (k,):
        raise ValidationError(
            "tau", f"must have one entry per learner, shape ({k},) (got {arr.shape})"
        )
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.number):
        raise ValidationError("tau", "must be an array of non-negative integers")
    if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)) or np.any(arr < 0):
        raise ValidationError("tau", "must be non-negative integers")
    return arr.astype(np.int64)


def _check_chunk_rule(max_elements: object, pad_ratio: object) -> None:
    if (
        isinstance(max_elements, bool)
        or not isinstance(max_elements, numbers.Integral)
        or (max_elements < 1)
    ):
        raise ValidationError("max_elements", f"must be a positive integer (got {max_elements!r})")
    if (
        isinstance(pad_ratio, bool)
        or not isinstance(pad_ratio, numbers.Real)
        or not (0 <= float(pad_ratio) <= 1)
    ):
        raise ValidationError("pad_ratio", f"must be in [0, 1] (got {pad_ratio!r})")
