r"""A ``feel`` scenario whose workload is the model that trains: :func:`feel_scenario_for_model`.

The paper's scenarios (presets ``feel-cpu``, ``feel-gpu``) price DenseNet121
on CIFAR-10: :math:`p` = 8,062,504 parameters, so a gradient of :math:`s = 32p`
= 258 Mbit, and :math:`C` = 3.47e8 cycles per sample. The engine trains far
smaller networks on offline data (the digits MLP has 64,934 parameters).
Two readings (``workload=``):

``"model"`` (the default, and ``edgealloc train``'s)
    The plan prices the network that trains, as
    :func:`~edgealloc.learn.scenario.scenario_for_model` does for ``mel``:
    ``workload.parameters`` = the model's parameter count (so
    ``gradient_bits`` = ``bits_per_parameter`` x :math:`p`, and the update
    cycles :math:`M^C` = 2 :math:`p`), and, on CPUs, ``cycles_per_sample``
    = the model's measured training FLOPs per sample (forward and backward,
    :meth:`~edgealloc.learn.models.ModelSpec.flops_per_sample`, ``standard``
    convention, the same :math:`3 \times 2 \times` MACs count the presets
    read for DenseNet121) times ``workload.cycles_per_flop``. A scenario
    that writes its own ``cycles_per_sample`` calibrates *its* network: the
    value is scaled by the ratio of the trained model's FLOPs to those of the
    scenario's named network at its ``input_pixels``. GPU scenarios keep
    their training curve (Assumption 1): measure the trained model's with
    ``edgealloc profile`` and pass it with ``--set``.
``"paper"``
    The scenario as written: the simulated devices train the paper's
    network, while the engine trains its own (the reproductions' reading,
    where the speed-ups depend on the paper's communication-to-computation
    ratio). The record notes the mismatch.

Values given in ``overrides`` (``--set parameters=...``, ``--set C=...``)
are always used as given.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .._validation import check_choice
from ..errors import ValidationError
from ..feel.problem import FeelProblem
from .models import ModelSpec
from .scenario import _model_meta as _mel_model_meta
from .scenario import _other_network, _scenario_document

__all__ = ["WORKLOADS", "feel_model_mismatch", "feel_scenario_for_model"]

#: The workload readings of :func:`feel_scenario_for_model`.
WORKLOADS: tuple[str, ...] = ("model", "paper")

_FAMILY = "feel"


def _model_meta(spec: ModelSpec) -> dict[str, Any]:
    return {
        **_mel_model_meta(spec),
        "n_params": spec.n_params,
        "flops_per_sample": spec.flops_per_sample("standard"),
    }


def feel_scenario_for_model(
    scenario: str | Path | Mapping[str, Any],
    spec: ModelSpec,
    overrides: Mapping[str, Any] | None = None,
    *,
    workload: str = "model",
) -> FeelProblem:
    """Compile a ``feel`` scenario for the model that trains (module docstring).

    Parameters
    ----------
    scenario
        A preset name, a scenario file or mapping (``scenario: feel``).
    spec
        The model that trains.
    overrides
        ``{dotted.key: value}`` with the family's short keys (``--set``).
    workload
        ``"model"`` (price the trained model) or ``"paper"`` (the scenario's
        network as written).

    Returns
    -------
    FeelProblem
        Its ``meta`` records ``trained_model`` (kind, shapes, parameters,
        FLOPs per sample) and ``workload_reading``.

    Raises
    ------
    ValidationError
        A canonical problem, another family's scenario, a bad ``workload``, and
        whatever the scenario compiler refuses.
    """
    from ..feel.scenario import MODELS
    from ..scenarios import aliases, apply_overrides, compile_scenario

    if not isinstance(spec, ModelSpec):
        raise ValidationError("spec", f"must be a ModelSpec (got {type(spec).__name__})")
    check_choice("workload", workload, WORKLOADS)
    data = _scenario_document(scenario, _FAMILY)
    user = dict(overrides or {})
    table = aliases(_FAMILY)
    keys = {table.get(key, key) for key in user}
    base = apply_overrides(data, user)
    wl_doc = base.get("workload")
    if workload == "model" and isinstance(wl_doc, Mapping):
        wl = dict(wl_doc)
        flops = float(spec.flops_per_sample("standard"))
        if "workload.parameters" not in keys:
            wl["parameters"] = int(spec.n_params)
        if "workload.cycles_per_sample" not in keys:
            own = wl.get("cycles_per_sample")
            per_flop = wl.get("cycles_per_flop", 1.0)
            name = wl.get("model", "densenet121")
            if own is not None and name in MODELS:
                pixels = float(wl.get("input_pixels", 32))
                named = 6.0 * MODELS[name]["macs_224"] * (pixels / 224.0) ** 2
                wl["cycles_per_sample"] = float(own) * flops / named
            elif isinstance(per_flop, int | float) and not isinstance(per_flop, bool):
                wl["cycles_per_sample"] = flops * float(per_flop)
        base["workload"] = wl
    problem = compile_scenario(base)
    meta = dict(problem.meta or {})
    meta["trained_model"] = _model_meta(spec)
    meta["workload_reading"] = workload
    return problem.replace(meta=meta)


def feel_model_mismatch(problem: FeelProblem, spec: ModelSpec) -> str | None:
    """Why the plan does not price the trained model (``None`` when it does)."""
    meta = problem.meta or {}
    bits_per = 32.0
    expected = bits_per * spec.n_params
    trained = meta.get("trained_model")
    reading = meta.get("workload_reading")
    if isinstance(trained, Mapping) and reading == "model":
        return _other_network(trained, spec, "plan")
    params = meta.get("parameters")
    if isinstance(params, int | float) and int(params) != spec.n_params:
        return (
            f"the plan prices a gradient of {float(problem.gradient_bits):.4g} bits "
            f"({meta.get('model', 'the scenario network')}, {int(params):,} parameters), but "
            f"the trained {spec.kind} has {spec.n_params:,} parameters ({expected:.4g} bits at "
            "32 bits each)"
        )
    if not meta and abs(float(problem.gradient_bits) - expected) > 1e-9 * expected:
        return (
            f"the plan prices a gradient of {float(problem.gradient_bits):.4g} bits, the trained "
            f"{spec.kind} has {spec.n_params:,} parameters ({expected:.4g} bits at 32 bits each)"
        )
    return None
