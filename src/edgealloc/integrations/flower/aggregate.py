r"""Aggregation with each family's own weights, as pure functions of NumPy arrays.

No Flower and no PyTorch: a model is a mapping ``name -> numpy.ndarray``
(``ArrayRecord`` converts both ways), so these can be checked against
hand-computed values without any networking.

``mel`` — the :math:`d_k`-weighted model average ([MEL-async] eqs. (1)-(3)):
learner :math:`k` starts from the global model :math:`w`, runs
:math:`\tau_k` full-batch gradient steps on its :math:`d_k` samples
(eqs. (1)-(2)) and the server takes

.. math::

    w \leftarrow \frac{1}{d} \sum_k d_k\, w_k[\tau_k], \qquad d = \sum_k d_k ,

over the learners that reported in time (:func:`weighted_model_average`).

``feel`` — the :math:`B_k`-weighted gradient average and one step
([FEEL] eqs. (1)-(2)): device :math:`k` sends the gradient :math:`g_k` of its
mean loss on a batch of :math:`B_k` samples at :math:`w`; the server takes

.. math::

    g = \frac{\sum_k B_k g_k}{\sum_k B_k}, \qquad w \leftarrow w - \eta g

(:func:`weighted_gradient_step`).

References
----------
[MEL-async] The asynchronous MEL paper (Mohammad, Sorour & Hefeida, arXiv:2012.00143),
Section 2.1, eqs. (1)-(3).
[FEEL] Ren, Yu, Ding, "Accelerating DNN training in wireless federated edge
learning systems" (Ren, Yu & Ding, IEEE JSAC 2021), Section II-A, eqs. (1)-(2).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from ...errors import ValidationError

__all__ = ["Arrays", "weighted_gradient_step", "weighted_model_average", "weights_of"]

#: A model (or a gradient): parameter name -> array.
Arrays = Mapping[str, np.ndarray]


def weights_of(counts: Sequence[float] | np.ndarray, field: str = "weights") -> np.ndarray:
    """Non-negative finite weights as float64 (``ValidationError`` naming ``field`` otherwise)."""
    w = np.asarray(counts, dtype=np.float64)
    if w.ndim != 1:
        raise ValidationError(field, f"must be a vector (got shape {w.shape})")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValidationError(f"{field}[{i}]", f"must be finite and >= 0 (got {w[i]!r})")
    return w


def _check_same(reference: Arrays, others: Sequence[Arrays], field: str) -> None:
    names = list(reference)
    for i, other in enumerate(others):
        if list(other) != names:
            raise ValidationError(
                f"{field}[{i}]", f"has parameters {list(other)}, expected {names}"
            )
        for name in names:
            if np.shape(other[name]) != np.shape(reference[name]):
                raise ValidationError(
                    f"{field}[{i}].{name}",
                    f"has shape {np.shape(other[name])}, expected {np.shape(reference[name])}",
                )


def weighted_model_average(
    models: Sequence[Arrays], samples: Sequence[float] | np.ndarray, *, fallback: Arrays
) -> dict[str, np.ndarray]:
    r"""The :math:`d_k`-weighted average of local models ([MEL-async] eq. (3)).

    Parameters
    ----------
    models
        The local models :math:`w_k[\tau_k]` of the learners that reported.
    samples
        Their :math:`d_k` (the examples each trained on); learners with
        :math:`d_k = 0` take no part.
    fallback
        The global model, returned (copied) when nobody takes part.

    Returns
    -------
    dict of str to numpy.ndarray
        :math:`\sum_k d_k w_k / \sum_k d_k`, in the models' dtype (summed in
        float64).

    Examples
    --------
    >>> w = weighted_model_average([{"w": np.array([0.0, 2.0])}, {"w": np.array([3.0, 5.0])}],
    ...                            [1, 2], fallback={"w": np.zeros(2)})
    >>> w["w"].tolist()
    [2.0, 4.0]
    """
    d = weights_of(samples, "samples")
    if len(d) != len(models):
        raise ValidationError("samples", f"has {len(d)} entries for {len(models)} models")
    _check_same(fallback, models, "models")
    total = float(d.sum())
    if total == 0:
        return {name: np.array(v, copy=True) for name, v in fallback.items()}
    out: dict[str, np.ndarray] = {}
    for name, ref in fallback.items():
        acc = np.zeros(np.shape(ref), dtype=np.float64)
        for k, model in enumerate(models):
            if d[k] > 0:
                acc += (d[k] / total) * np.asarray(model[name], dtype=np.float64)
        out[name] = acc.astype(np.asarray(ref).dtype, copy=False)
    return out


def weighted_gradient_step(
    params: Arrays,
    gradients: Sequence[Arrays],
    batch_sizes: Sequence[float] | np.ndarray,
    *,
    lr: float,
) -> dict[str, np.ndarray]:
    r"""One step along the :math:`B_k`-weighted average gradient ([FEEL] eqs. (1)-(2)).

    Parameters
    ----------
    params
        The global model :math:`w`.
    gradients
        The devices' gradients :math:`g_k` (of their mean loss on their batch).
    batch_sizes
        Their :math:`B_k`.
    lr
        Learning rate :math:`\eta`.

    Returns
    -------
    dict of str to numpy.ndarray
        :math:`w - \eta \sum_k B_k g_k / \sum_k B_k`; a copy of ``params``
        when every batch is empty.

    Examples
    --------
    >>> w = weighted_gradient_step({"w": np.array([1.0])}, [{"w": np.array([2.0])},
    ...                            {"w": np.array([-1.0])}], [1, 2], lr=0.5)
    >>> w["w"].tolist()
    [1.0]
    """
    b = weights_of(batch_sizes, "batch_sizes")
    if len(b) != len(gradients):
        raise ValidationError("batch_sizes", f"has {len(b)} entries for {len(gradients)} gradients")
    if not (isinstance(lr, int | float) and np.isfinite(lr) and lr > 0):
        raise ValidationError("lr", f"must be a positive finite number (got {lr!r})")
    _check_same(params, gradients, "gradients")
    total = float(b.sum())
    out: dict[str, np.ndarray] = {}
    for name, ref in params.items():
        w = np.asarray(ref, dtype=np.float64)
        if total > 0:
            g = np.zeros(w.shape, dtype=np.float64)
            for k, grad in enumerate(gradients):
                if b[k] > 0:
                    g += (b[k] / total) * np.asarray(grad[name], dtype=np.float64)  # eq. (1)
            w = w - lr * g  # eq. (2)
        out[name] = w.astype(np.asarray(ref).dtype, copy=False)
    return out
