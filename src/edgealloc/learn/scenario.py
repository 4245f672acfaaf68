r"""One source of truth: a ``mel`` scenario whose workload is the model that trains.

:func:`scenario_for_model` compiles a ``mel`` scenario whose workload *is*
the trained model: ``workload.layers`` and ``features`` from
:meth:`~edgealloc.learn.models.ModelSpec.fully_connected` (``mlp``,
``linear``), or, for the ``cnn``, ``cycles_per_sample`` from the model's
measured FLOPs (:meth:`~edgealloc.learn.models.ModelSpec.flops_per_sample` in
the scenario's ``flops_convention``, times ``cycles_per_flop``) and
``model_coefficients`` from its parameter count. The bits and FLOPs that set
the allocation are then those of the network that trains;
:func:`model_mismatch` says when a problem was compiled for another one
(:func:`~edgealloc.learn.training.train` warns).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._validation import check_choice, check_int
from ..errors import ValidationError
from ..mel.problem import MelProblem
from ..system import FullyConnected
from .models import ModelSpec
from .options import MODES

__all__ = ["model_mismatch", "scenario_for_model"]


def _model_meta(spec: ModelSpec) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": spec.kind,
        "input_shape": list(spec.input_shape),
        "n_outputs": spec.n_outputs,
        "hidden": list(spec.hidden) if spec.kind == "mlp" else None,
        "channels": list(spec.channels) if spec.kind == "cnn" else None,
        "kernel_size": spec.kernel_size if spec.kind == "cnn" else None,
    }
    return out


def _other_network(compiled: Mapping[str, Any], spec: ModelSpec, what: str) -> str | None:
    """Why the network ``compiled`` into the ``what``'s meta is not ``spec`` (None: it is)."""
    mine = _model_meta(spec)
    keys = ("kind", "input_shape", "n_outputs", "hidden", "channels", "kernel_size")
    if any(compiled.get(key) != mine.get(key) for key in keys):
        return (
            f"the {what} was compiled for a {compiled.get('kind')} with input "
            f"{compiled.get('input_shape')}, but a {spec.kind} with input "
            f"{list(spec.input_shape)} trains"
        )
    return None


def _scenario_document(scenario: Any, family: str = "mel") -> dict[str, Any]:
    """The scenario document of a preset name, a file or a mapping, for ``family``."""
    from ..api import load_document
    from ..scenarios import PRESETS

    if isinstance(scenario, Mapping):
        data: Any = dict(scenario)
    elif isinstance(scenario, str | Path):
        text = str(scenario)
        if text in PRESETS and not Path(text).exists():
            data = PRESETS[text]()
        else:
            data = load_document(scenario)
    else:
        raise ValidationError(
            "scenario",
            f"must be a preset name, a file or a mapping (got {type(scenario).__name__})",
        )
    if not isinstance(data, Mapping):
        raise ValidationError("scenario", f"must be a mapping (got {type(data).__name__})")
    if "family" in data and "scenario" not in data:
        raise ValidationError(
            "scenario",
            "is a canonical problem: it has no workload to match to the model; give a scenario "
            f"(scenario: {family}) or a preset",
        )
    if data.get("scenario") != family:
        raise ValidationError(
            "scenario", f"must be a {family} scenario (got scenario: {data.get('scenario')!r})"
        )
    return dict(data)


def scenario_for_model(
    scenario: str | Path | Mapping[str, Any],
    spec: ModelSpec,
    overrides: Mapping[str, Any] | None = None,
    *,
    total_samples: int | None = None,
    mode: str | None = None,
) -> MelProblem:
    """Compile a ``mel`` scenario whose workload is the model that trains.

    Parameters
    ----------
    scenario
        A preset name, a scenario file or a scenario mapping (``scenario: mel``).
    spec
        The model to train.
    overrides
        ``{dotted.key: value}`` (aliases as in ``--set``), applied before the
        workload is set. ``workload.layers`` and ``workload.features`` are
        the model's and cannot be overridden.
    total_samples
        When given, the samples per cycle :math:`d` (e.g. the training set
        size); otherwise the scenario's (after overrides).
    mode
        When given, the scenario's ``mode`` (``"parallel"`` or
        ``"federated"``): whether the batches are shipped, which sets
        :math:`c_1`.

    Returns
    -------
    MelProblem
        The compiled problem; its ``meta`` also records the model
        (``meta["model"]``: kind, shapes, ``n_params``, ``flops_per_sample``)
        and ``update_bits_per_sample`` (:math:`P_m S_d`, used by the energy
        ledger).

    Notes
    -----
    * ``mlp`` and ``linear``: ``workload.layers`` =
      :meth:`ModelSpec.fully_connected` widths and ``features`` = the input
      size; the scenario's ``flops_convention``, ``include_biases``,
      precisions and ``cycles_per_flop`` still apply, and the model's
      measured FLOPs and size equal ``FullyConnected``'s.
    * ``cnn``: the scenario schema describes a fully connected network, so
      ``cycles_per_sample`` is set to the model's measured
      ``flops_per_sample(flops_convention) * cycles_per_flop`` and
      ``model_coefficients`` to its parameter count (weights only when
      ``include_biases`` is false); ``layers`` then only holds
      ``[input size, outputs]`` (unused). Activations and pooling are not
      counted, as for the dense nets.
    * A scenario that sets ``cycles_per_sample`` or ``model_coefficients``
      itself (e.g. ``mel-sync-calibrated``, whose ``model_coefficients`` is
      the printed bit count read as a coefficient count) is read as a
      calibration of *its* network: the value is scaled by the ratio of the
      trained model's FLOPs (coefficients) to the scenario network's, which
      keeps the reading. A value given in ``overrides`` is used as is.

    Raises
    ------
    ValidationError
        A canonical problem or another family, overrides of the model's
        fields, and anything the scenario compiler rejects.
    """
    from .._validation import validate_model
    from ..mel.scenario import MelScenario
    from ..scenarios import ALIASES, apply_overrides, compile_scenario

    if not isinstance(spec, ModelSpec):
        raise ValidationError("spec", f"must be a ModelSpec (got {type(spec).__name__})")
    data = _scenario_document(scenario)
    user = dict(overrides or {})
    keys = {ALIASES.get(key, key) for key in user}
    for fixed in ("workload", "workload.layers", "workload.features"):
        if fixed in keys:
            raise ValidationError(
                fixed,
                f"is set from the trained model ({spec.kind}, input {list(spec.input_shape)}); "
                "change the model instead",
            )
    base = apply_overrides(data, user)
    if mode is not None:
        base["mode"] = check_choice("mode", mode, MODES)
    if total_samples is not None:
        base["total_samples"] = check_int("total_samples", total_samples, minimum=1)
    sc = validate_model(MelScenario, base)
    wl = sc.workload
    conv, incl = wl.flops_convention, wl.include_biases
    own = FullyConnected(tuple(wl.layers))
    own_flops = own.flops_per_sample(conv)
    own_coeffs = own.n_params if incl else own.n_weights
    new_flops = spec.flops_per_sample(conv)
    new_coeffs = spec.n_params if incl else spec.n_weights
    dense = spec.kind in ("mlp", "linear")
    workload = dict(base["workload"])
    workload["layers"] = (
        list(spec.fully_connected().layers)
        if dense
        else [
            spec.n_features,
            spec.n_outputs,
        ]
    )
    workload["features"] = spec.n_features
    if wl.cycles_per_sample is not None and "workload.cycles_per_sample" not in keys:
        workload["cycles_per_sample"] = wl.cycles_per_sample * new_flops / own_flops
    elif wl.cycles_per_sample is None and not dense:
        workload["cycles_per_sample"] = float(new_flops) * wl.cycles_per_flop
    if wl.model_coefficients is not None and "workload.model_coefficients" not in keys:
        workload["model_coefficients"] = wl.model_coefficients * new_coeffs / own_coeffs
    elif wl.model_coefficients is None and not dense:
        workload["model_coefficients"] = float(new_coeffs)
    base["workload"] = workload
    problem = compile_scenario(base)
    meta = dict(problem.meta or {})
    meta["model"] = {
        **_model_meta(spec),
        "n_params": spec.n_params,
        "flops_per_sample": new_flops,
        "flops_convention": conv,
    }
    meta["update_bits_per_sample"] = float(wl.model_bits * wl.per_sample_coefficients)
    return problem.replace(meta=meta)


def paper_workload_scale(scenario: Any, spec: ModelSpec, n_train: int) -> float | None:
    r"""Cycles per FLOP that make one local iteration of ``spec`` as costly as the scenario's.

    .. math::

        s = \frac{d_{\text{sc}}\, C_m^{\text{sc}}}{n_{\text{train}}\, C_m^{\text{model}}},

    with :math:`d_{\text{sc}}` and :math:`C_m^{\text{sc}}` the
    scenario's ``total_samples`` and the FLOPs per sample of its own network
    (``workload.layers`` in its ``flops_convention``; 60,000 x 1,123,736 for
    the MEL presets, [MEL-sync] Section V-A) and :math:`C_m^{\text{model}}`
    those of the model that trains on ``n_train`` samples per cycle. With
    ``workload.cycles_per_flop`` multiplied by :math:`s`, the compute time of
    an iteration, :math:`C_m d_k / f_k` ([MEL-sync] eq. (4), [MEL-async]
    eq. (11)), is the paper's for the same share of the data: the papers'
    regime, a few to tens of local iterations per cycle. ``None`` when the
    scenario does not describe its network by ``layers``.
    """
    data = _scenario_document(scenario)
    workload = data.get("workload") if isinstance(data, Mapping) else None
    if not isinstance(workload, Mapping) or not isinstance(workload.get("layers"), list):
        return None
    try:
        conv = workload.get("flops_convention", "paper")
        own = float(data["total_samples"]) * FullyConnected(
            tuple(int(v) for v in workload["layers"])
        ).flops_per_sample(conv)
        return own / (float(n_train) * float(spec.flops_per_sample(conv)))
    except (KeyError, TypeError, ValueError, ValidationError):
        return None


def model_mismatch(problem: MelProblem, spec: ModelSpec) -> str | None:
    """Why the problem's workload is not the trained model (``None`` when it is, or unknown)."""
    meta = problem.meta or {}
    model = meta.get("model")
    if isinstance(model, Mapping):
        return _other_network(model, spec, "problem")
    layers = meta.get("layers")
    if spec.kind in ("mlp", "linear") and isinstance(layers, list):
        mine_layers = list(spec.fully_connected().layers)
        if [int(v) for v in layers] != mine_layers:
            return (
                f"the problem's workload is the network {layers}, but the trained model is "
                f"{mine_layers}"
            )
    return None
