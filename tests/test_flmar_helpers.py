"""Shared instances of the ``flmar`` tests, and the checks of the closed forms in ``_math``.

Other ``test_flmar_*`` modules import :func:`paper_like` and :func:`document`
from here (pytest puts ``tests/`` on ``sys.path``).

The inverses of ``_math`` are computed by Newton's method; here they are
checked against the closed forms FLMAR.md gives with SciPy's Lambert W
(``phi``: (A.24); ``psi`` and the smallest bandwidth: section 5.3).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from scipy.special import lambertw

from edgealloc.flmar import FlmarProblem
from edgealloc.flmar._math import (
    LN2,
    H,
    H_inv,
    b_for_rate,
    phi,
    phi_inv,
    power_for_rate,
    psi,
    psi_inv,
    rate,
)

#: The accuracy table of the paper's experiments (FLMAR.md section 1).
ACCURACY = [0.44225, 0.61996, 0.79766, 0.97537]
RESOLUTIONS = [160, 320, 480, 640]


def document(
    n: int = 6,
    seed: int = 0,
    *,
    weights: tuple[float, float, float] = (0.5, 0.5, 1.0),
    deadline: float | None = None,
    p_min: float = 1e-3,
    options: int = 4,
    radius: float = 250.0,
) -> dict[str, Any]:
    """A canonical document of the paper's setting (FLMAR.md section 6), built by hand.

    Uniform in a disc of ``radius``, path loss 128.1 + 37.6 log10(d_km) with
    8 dB shadowing, c ~ U[1, 3]e4, the first ``options`` resolutions.
    """
    rng = np.random.default_rng(seed)
    dist = np.maximum(radius * np.sqrt(rng.random(n)), 1.0)
    pl = 128.1 + 37.6 * np.log10(dist / 1000.0) + 8.0 * rng.standard_normal(n)
    return {
        "family": "flmar",
        "samples": [500] * n,
        "cycles_per_sample": rng.uniform(1e4, 3e4, n).tolist(),
        "channel_gain": (10 ** (-pl / 10)).tolist(),
        "upload_bits": 28100,
        "bandwidth": 2e7 * n / 50,
        "noise_psd": 10 ** (-17.4) / 1000,
        "power": [p_min, 10**1.2 / 1000],
        "frequency": [1e8, 2e9],
        "capacitance": 1e-28,
        "local_iterations": 10,
        "rounds": 100,
        "resolutions": RESOLUTIONS[:options],
        "reference_resolution": 160,
        "accuracy": ACCURACY[:options],
        "weights": dict(zip(("energy", "time", "accuracy"), weights, strict=True)),
        "deadline": deadline,
    }


def paper_like(n: int = 6, seed: int = 0, **kwargs: Any) -> FlmarProblem:
    """:func:`document` as a problem (bandwidth scaled to 400 kHz per device)."""
    return FlmarProblem.from_dict(document(n, seed, **kwargs))


# ---------------------------------------------------------------------------
# The closed forms of _math
# ---------------------------------------------------------------------------
GRID = np.logspace(-6, 5, 45)


def test_phi_inverse_is_the_lambert_w_closed_form() -> None:
    c = phi(GRID)
    closed = np.exp(1 + lambertw((c - 1) / math.e, 0).real) - 1  # (A.24)
    assert np.allclose(phi_inv(c), GRID, rtol=1e-12)
    big = GRID > 1e-3  # the closed form loses digits near the branch point
    assert np.allclose(phi_inv(c[big]), closed[big], rtol=1e-9)


def test_psi_inverse_is_the_lambert_w_minus_one_closed_form() -> None:
    z = psi(GRID)
    closed = -z * lambertw(-np.exp(-1 / z) / z, -1).real - 1
    assert np.allclose(psi_inv(z), GRID, rtol=1e-8)
    big = GRID > 1e-2
    assert np.allclose(psi_inv(z[big]), closed[big], rtol=1e-7)


def test_H_inverse_and_monotonicity() -> None:
    h = H(GRID)
    assert np.all(np.diff(h) > 0)
    assert np.allclose(H_inv(h), GRID, rtol=1e-12)
    assert H_inv(np.array([0.0]))[0] == 0.0


def test_bandwidth_for_rate_is_the_section_5_3_formula() -> None:
    g, n0, p = 1e-10, 3.98e-21, 0.0158
    a = g * p / n0
    r = np.array([1e5, 1e6, 5e6])
    c = r * LN2 / a
    w = -lambertw(-c * np.exp(-c), -1).real / c
    b_closed = a / (w - 1)
    b = b_for_rate(r, p, g, n0)
    assert np.allclose(b, b_closed, rtol=1e-9)
    assert np.allclose(rate(b, p, g, n0), r, rtol=1e-12)
    # The same rate needs exactly p at that bandwidth.
    assert np.allclose(power_for_rate(b, r, g, n0), p, rtol=1e-10)
    # Beyond the infinite-bandwidth limit a / ln 2 the rate is unreachable.
    assert np.isinf(b_for_rate(np.array([1.01 * a / LN2]), p, g, n0)).all()


def test_rate_is_zero_without_bandwidth_or_power() -> None:
    assert rate(np.array([0.0, 1e6]), np.array([0.01, 0.0]), 1e-10, 4e-21).tolist() == [0.0, 0.0]


@pytest.mark.parametrize("x", [1e-7, 0.0199, 0.0201, 3.0])
def test_phi_series_and_direct_forms_agree_at_the_switch(x: float) -> None:
    exact = (1 + x) * math.log1p(x) - x if x > 1e-3 else x * x / 2 - x**3 / 6 + x**4 / 12
    assert phi(np.array([x]))[0] == pytest.approx(exact, rel=1e-10)
