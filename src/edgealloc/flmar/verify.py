r"""Independent oracles for the ``flmar`` family: generic solvers on the paper's formulas.

These exist to *check* :mod:`edgealloc.flmar.solvers`, so they are written
from the problem statement (FLMAR.md sections 1-2, 10) and import nothing
from the family's solvers (``_lagrange``, ``_fixed``, ``_bound``, ``_optimal``,
``_sp1``, ``_sp2``); they share only :class:`~edgealloc.flmar.FlmarProblem`
(its data and solver-independent :meth:`~FlmarProblem.evaluate`) and the
rate formula (1). Each needs an optional dependency (SciPy is always there;
CVXPY and PySCIPOpt come with ``pip install .[verify]``).

* :func:`scip_minlp` — problem (12) as a mixed-integer nonlinear programme for
  SCIP's spatial branch and bound (binary resolution choices, the rate (1)
  as ``b log(1 + c p / b)``), in scaled units (MHz, mW, GHz, Mbit).
* :func:`slsqp_original` — the fixed-resolution problem in its original
  variables :math:`(b, p, f, \tau)` by SciPy's SLSQP (a local method; the
  problem is convex only after a change of variables).
* :func:`sp2_multistart` — SP2 (16)-(17) by SLSQP from many random starts.
* :func:`sp2_v2_value` — SP2_v2 (22) by CVXPY's exponential cone at given
  :math:`(\beta, \nu)` (Theorem 1: its optimum is 0 at the right ones).
* :func:`sp1_relaxed_conic` — the relaxed SP1_v1 (18) as a conic programme
  (FLMAR.md section 10), scaled as written there.
* :func:`enumerate_resolutions` — every resolution vector (``K^N`` of them),
  each solved by a given fixed-resolution solver.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._math import rate

__all__ = [
    "enumerate_resolutions",
    "scip_minlp",
    "slsqp_original",
    "sp1_relaxed_conic",
    "sp2_multistart",
    "sp2_v2_value",
]

FloatArray = NDArray[np.float64]
LN2 = math.log(2.0)


def scip_minlp(problem, *, time_limit: float = 60.0, gap: float = 1e-7) -> dict[str, Any]:
    """Problem (12)/(13) as a MINLP solved by SCIP.

    Units: bandwidth in MHz, power in mW, clock in GHz, bits in Mbit, cycles
    in Gcycles, so that every variable and coefficient is of order one.
    Returns ``{"status", "objective", "bound", "bandwidth", "power",
    "frequency", "options", "evaluated", "violations"}`` (SI units):
    ``objective`` is SCIP's, ``evaluated`` that of its plan recomputed by
    :meth:`FlmarProblem.evaluate` (SCIP meets its constraints to an absolute
    tolerance of 1e-8 in the scaled units, which on the upload constraint
    ``theta r >= d`` is ~4e-7 relative: its own objective can be that much below
    what its plan achieves).
    """
    import pyscipopt as scip

    p = problem
    n, k = p.n_devices, p.n_options
    w = p.weights.energy * p.rounds
    w2r = p.weights.time * p.rounds
    rho = p.weights.accuracy
    cyc = (p.cycles_per_round[:, None] * p.cycle_factors[None, :]) / 1e9  # Gcycles
    d = p.bits / 1e6  # Mbit
    snr = p.channel_gain * 1e-3 / (p.noise_psd * 1e6)  # per (mW / MHz)
    kap = p.capacitance * 1e27  # J per Gcycle per GHz^2
    m = scip.Model()
    m.hideOutput()
    m.setParam("limits/time", time_limit)
    m.setParam("limits/gap", gap)
    m.setParam("numerics/feastol", 1e-8)
    b = [m.addVar(f"b{i}", lb=1e-6, ub=p.bandwidth / 1e6) for i in range(n)]
    pw = [m.addVar(f"p{i}", lb=p.power_min[i] * 1e3, ub=p.power_max[i] * 1e3) for i in range(n)]
    f = [
        m.addVar(f"f{i}", lb=p.frequency_min[i] / 1e9, ub=p.frequency_max[i] / 1e9)
        for i in range(n)
    ]
    z = [[m.addVar(f"z{i}_{j}", vtype="B") for j in range(k)] for i in range(n)]
    r = [m.addVar(f"r{i}", lb=1e-9, ub=1e6) for i in range(n)]  # Mbit/s
    th = [m.addVar(f"th{i}", lb=0.0, ub=1e6) for i in range(n)]  # upload time
    ct = [m.addVar(f"ct{i}", lb=0.0, ub=1e6) for i in range(n)]  # compute time
    tau_ub = p.round_limit if math.isfinite(p.round_limit) else 1e4
    tau = m.addVar("tau", lb=0.0, ub=tau_ub)
    m.addCons(scip.quicksum(b) <= p.bandwidth / 1e6)
    obj = w2r * tau
    for i in range(n):
        m.addCons(scip.quicksum(z[i]) == 1)
        m.addCons(r[i] * LN2 <= b[i] * scip.log(1 + snr[i] * pw[i] / b[i]))
        m.addCons(th[i] * r[i] >= d[i])
        m.addCons(ct[i] * f[i] >= scip.quicksum(cyc[i, j] * z[i][j] for j in range(k)))
        m.addCons(th[i] + ct[i] <= tau)
        obj = obj + w * 1e-3 * pw[i] * th[i]
        obj = obj + w * kap * f[i] * f[i] * scip.quicksum(cyc[i, j] * z[i][j] for j in range(k))
        obj = obj - rho * scip.quicksum(float(p.accuracy[j]) * z[i][j] for j in range(k))
    e = m.addVar("obj", lb=-1e9, ub=1e9)
    m.addCons(e >= obj)
    m.setObjective(e, "minimize")
    m.optimize()
    status = m.getStatus()
    out: dict[str, Any] = {"status": status, "objective": math.nan, "bound": m.getDualbound()}
    if m.getNSols() > 0:
        out["objective"] = float(m.getObjVal())
        out["bandwidth"] = np.array([m.getVal(x) * 1e6 for x in b])
        out["power"] = np.array([m.getVal(x) * 1e-3 for x in pw])
        out["frequency"] = np.array([m.getVal(x) * 1e9 for x in f])
        out["options"] = np.array(
            [int(np.argmax([m.getVal(z[i][j]) for j in range(k)])) for i in range(n)]
        )
        ev = p.evaluate(
            out["bandwidth"],
            np.clip(out["power"], p.power_min, p.power_max),
            np.clip(out["frequency"], p.frequency_min, p.frequency_max),
            p.resolutions[out["options"]],
        )
        out["evaluated"] = ev.objective
        out["violations"] = ev.violations
    return out


def slsqp_original(problem, options: NDArray[np.int64], start: dict | None = None) -> float:
    """The fixed-resolution optimum by SLSQP on the original ``(b, p, f, tau)``.

    Minimises ``w1 R_g sum(p d / r + kappa W f^2) + w2 R_g tau - rho sum A`` s.t.
    ``W/f + d/r <= tau`` (13a), ``sum b <= B``, the bounds (and ``tau <= T/R_g``),
    in units scaled to order one. ``start`` (``bandwidth``, ``power``,
    ``frequency``) is the starting point (default: ``B/N``, ``p_max`` and the
    slowest clock meeting a common round time). Returns the objective of the
    point found (``inf`` if SLSQP ends infeasible).
    """
    from scipy.optimize import minimize

    p = problem
    n = p.n_devices
    W = p.cycles_per_round * p.cycle_factors[np.asarray(options)]
    w = p.weights.energy * p.rounds
    w2r = p.weights.time * p.rounds
    g, d, n0, B = p.channel_gain, p.bits, p.noise_psd, p.bandwidth
    sb, sp, sf = B / n, p.power_max, p.frequency_max

    def unpack(x):
        return x[:n] * sb, x[n : 2 * n] * sp, x[2 * n : 3 * n] * sf, x[3 * n]

    def objective(x):
        b, pp, f, tau = unpack(x)
        r = rate(b, pp, g, n0)
        return w * np.sum(pp * d / r + p.capacitance * W * f * f) + w2r * tau

    def time_slack(x):
        b, pp, f, tau = unpack(x)
        return (tau - W / f - d / rate(b, pp, g, n0)) / tau

    cons = [
        {"type": "ineq", "fun": time_slack},
        {"type": "ineq", "fun": lambda x: n - np.sum(x[:n])},
    ]
    tau_cap = p.round_limit
    if math.isfinite(tau_cap):
        cons.append({"type": "ineq", "fun": lambda x: tau_cap - x[3 * n]})
    bounds = (
        [(1e-9, n)] * n
        + list(zip(p.power_min / sp, np.ones(n), strict=True))
        + list(zip(p.frequency_min / sf, np.ones(n), strict=True))
        + [(1e-9, None)]
    )
    if start is None:
        b = np.full(n, B / n)
        pp = p.power_max.copy()
        up = d / rate(b, pp, g, n0)
        tau = float(np.max(W / p.frequency_max + up)) * 1.2
        if math.isfinite(tau_cap):
            tau = min(tau, tau_cap)
        f = np.clip(W / np.maximum(tau - up, 1e-12), p.frequency_min, p.frequency_max)
    else:
        b, pp, f = (np.asarray(start[k], float) for k in ("bandwidth", "power", "frequency"))
        tau = float(np.max(W / f + d / rate(b, pp, g, n0)))
    x0 = np.concatenate([b / sb, pp / sp, f / sf, [tau]])
    res = minimize(
        objective,
        x0,
        method="SLSQP",
        bounds=bounds,
        constraints=cons,
        options={"maxiter": 3000, "ftol": 1e-15},
    )
    b, pp, f, _ = unpack(res.x)
    ev = p.evaluate(b, np.clip(pp, p.power_min, p.power_max), f, p.resolutions[options])
    return ev.objective if not ev.violations else math.inf


def sp2_multistart(
    problem, min_rate: FloatArray, *, starts: int = 12, seed: int = 0
) -> tuple[float, FloatArray, FloatArray]:
    """SP2 (16)-(17) by SLSQP from ``starts`` random feasible-ish points.

    Minimises ``sum_n p_n d_n / r_n(b_n, p_n)`` s.t. ``r_n >= min_rate_n``,
    ``sum b <= B``, ``p`` in its bounds. Returns ``(energy, b, p)`` of the
    best point that satisfies the constraints to ``1e-9``.
    """
    from scipy.optimize import minimize

    p = problem
    n = p.n_devices
    g, d, n0, B = p.channel_gain, p.bits, p.noise_psd, p.bandwidth
    r = np.asarray(min_rate, float)
    rng = np.random.default_rng(seed)

    def energy(x):
        b, pp = x[:n] * B / n, x[n:] * p.power_max
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(pp * d / rate(b, pp, g, n0)))

    def energy_grad(x):
        b, pp = x[:n] * B / n, x[n:] * p.power_max
        with np.errstate(divide="ignore", invalid="ignore"):
            snr = g * pp / (n0 * b)
            r = b * np.log1p(snr) / LN2
            r_p = b * (g / (n0 * b)) / ((1 + snr) * LN2)
            r_b = (np.log1p(snr) - snr / (1 + snr)) / LN2
            de_p = d / r - pp * d * r_p / r**2
            de_b = -pp * d * r_b / r**2
        return np.concatenate([de_b * B / n, de_p * p.power_max])

    cons = [
        {"type": "ineq", "fun": lambda x: n - np.sum(x[:n])},
        {"type": "ineq", "fun": lambda x: rate(x[:n] * B / n, x[n:] * p.power_max, g, n0) / r - 1},
    ]
    bounds = [(1e-9, n)] * n + list(zip(p.power_min / p.power_max, np.ones(n), strict=True))
    best = (math.inf, None, None)
    for _ in range(starts):
        x0 = np.concatenate([rng.dirichlet(np.ones(n)) * n, rng.uniform(0.3, 1.0, n)])
        res = minimize(
            energy,
            x0,
            jac=energy_grad,
            method="SLSQP",
            bounds=bounds,
            constraints=cons,
            options={"maxiter": 400, "ftol": 1e-15},
        )
        x = res.x
        ok = cons[0]["fun"](x) >= -1e-9 and np.all(cons[1]["fun"](x) >= -1e-9)
        if ok and res.fun < best[0]:
            best = (float(res.fun), x[:n] * B / n, x[n:] * p.power_max)
    return best  # type: ignore[return-value]


def sp2_v2_value(
    problem, min_rate: FloatArray, beta: FloatArray, nu: FloatArray
) -> tuple[float, float]:
    """Optimal value of SP2_v2 (22) at ``(beta, nu)`` by CVXPY (exponential cone).

    ``min sum_n nu_n (p_n d_n - beta_n G_n(p_n, b_n))`` s.t. (12a), (12b),
    (21a) ``G_n >= min_rate_n``, with ``G = -rel_entr(b, b + g p / N0) / ln 2``.
    Scaled: bandwidth in units of ``B/N``, power in units of ``p_max``, rates
    in units of ``min_rate``. Returns ``(value, scale)`` where ``scale`` is
    ``sum_n nu_n p_n d_n`` at the data's magnitude (for a relative test).
    """
    import cvxpy as cp

    p = problem
    n = p.n_devices
    sb = p.bandwidth / n
    r = np.asarray(min_rate, float)
    b = cp.Variable(n, pos=True)
    x = cp.Variable(n, nonneg=True)
    a = p.channel_gain * p.power_max / (p.noise_psd * sb)  # SNR per unit power, unit bandwidth
    G = -cp.rel_entr(b, b + cp.multiply(a, x)) * (sb / LN2) / r  # rate / min_rate
    coef_p = nu * p.power_max * p.bits
    coef_g = nu * beta * r
    obj = cp.sum(cp.multiply(coef_p, x) - cp.multiply(coef_g, G))
    scale = float(np.sum(coef_p))
    cons = [cp.sum(b) <= n, x >= p.power_min / p.power_max, x <= 1, G >= 1]
    prob = cp.Problem(cp.Minimize(obj / scale), cons)
    prob.solve(solver=cp.CLARABEL)
    return float(prob.value) * scale, scale


def sp1_relaxed_conic(problem, upload_time: FloatArray) -> float:
    """The relaxed SP1_v1 (18) as a conic programme (FLMAR.md section 10).

    Variables :math:`\\hat s = s/s_K`, the round time :math:`\\tau`, per device
    :math:`z_n, e_n`; with :math:`\\tau_{ref}` the round time of the slowest
    device at ``s_1`` and ``f_max``:

    * ``e_n >= z_n`` and ``e_n >= w1 R_g kappa K_n f_min^2 (s_K/s_0)^2 s_hat^2``;
    * ``c_n^(1/3) s_hat^2 <= geo_mean(z_n, Delta_n, Delta_n)`` with
      ``c_n = w1 R_g kappa K_n^3 (s_K/s_0)^6 / tau_ref^2``,
      ``Delta_n = (tau - t_n) / tau_ref``;
    * ``(K_n (s_K/s_0)^2 / (f_max tau_ref)) s_hat^2 <= Delta_n`` (the clock limit);
    * objective ``sum e_n + w2 R_g tau - rho min_k(affine pieces of A_tilde)``
      where ``A_tilde`` is the least concave majorant of the table.

    Each constraint is scaled as written (unscaled, the clock limit is
    violated by ~15 % at "optimal" status). Returns the optimal value of
    (14) for the relaxed problem.
    """
    import cvxpy as cp

    p = problem
    t = np.asarray(upload_time, float)
    n = p.n_devices
    s = p.resolutions.astype(float)
    sK, s0 = s[-1], p.reference_resolution
    Kn = p.cycles_per_round
    wk = p.weights.energy * p.rounds * p.capacitance
    w2r = p.weights.time * p.rounds
    rho = p.weights.accuracy
    fmin, fmax = p.frequency_min, p.frequency_max
    tau_ref = float(np.max(t + Kn * (s[0] / s0) ** 2 / fmax))
    sh = cp.Variable(n)
    tau = cp.Variable()
    z = cp.Variable(n)
    e = cp.Variable(n)
    delta = (tau - t) / tau_ref
    c = wk * Kn**3 * (sK / s0) ** 6 / tau_ref**2
    cons = [sh >= s[0] / sK, sh <= 1.0, e >= z]
    cons.append(e >= cp.multiply(wk * Kn * fmin**2 * (sK / s0) ** 2, cp.square(sh)))
    for i in range(n):
        cons.append(
            c[i] ** (1 / 3) * cp.square(sh[i]) <= cp.geo_mean(cp.hstack([z[i], delta[i], delta[i]]))
        )
    cons.append(cp.multiply(Kn * (sK / s0) ** 2 / (fmax * tau_ref), cp.square(sh)) <= delta)
    if math.isfinite(p.round_limit):
        cons.append(tau <= p.round_limit)
    hs, ha = _upper_hull(s, p.accuracy.astype(float))
    acc_terms = []
    if hs.size == 1:
        acc_terms = [ha[0] * np.ones(n)]
    for j in range(hs.size - 1):
        slope = (ha[j + 1] - ha[j]) / (hs[j + 1] - hs[j])
        acc_terms.append(ha[j] + slope * (sK * sh - hs[j]))
    acc = acc_terms[0] if len(acc_terms) == 1 else cp.minimum(*acc_terms)
    obj = cp.sum(e) + w2r * tau - rho * cp.sum(acc)
    prob = cp.Problem(cp.Minimize(obj), cons)
    prob.solve(solver=cp.CLARABEL)
    return float(prob.value)


def _upper_hull(x: FloatArray, y: FloatArray) -> tuple[FloatArray, FloatArray]:
    """Vertices of the least concave majorant of the points (x sorted)."""
    keep: list[int] = []
    for i in range(x.size):
        while len(keep) >= 2:
            a, b = keep[-2], keep[-1]
            cross = (x[b] - x[a]) * (y[i] - y[a]) - (y[b] - y[a]) * (x[i] - x[a])
            if cross >= 0:  # b is on or below the chord a-i
                keep.pop()
            else:
                break
        keep.append(i)
    return x[keep], y[keep]


def enumerate_resolutions(
    problem, solve: Callable[[Any, NDArray[np.int64]], float | None]
) -> tuple[float, NDArray[np.int64] | None]:
    """The best of ``solve(problem, options)`` over all ``K^N`` resolution vectors."""
    best, arg = math.inf, None
    for combo in itertools.product(range(problem.n_options), repeat=problem.n_devices):
        k = np.asarray(combo, np.int64)
        val = solve(problem, k)
        if val is not None and val < best:
            best, arg = val, k
    return best, arg
