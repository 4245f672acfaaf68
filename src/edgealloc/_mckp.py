r"""Exact multiple-choice knapsack with small integer values.

.. math::

    \max_{j_i} \sum_i v_{i, j_i} \quad\text{s.t.}\quad \sum_i w_{i, j_i} \le W,

one option :math:`j_i` per row :math:`i`, integer values, real costs
(``inf`` marks an unavailable option). Within a row, costs must be
non-decreasing and values strictly increasing along the columns, as they are
for the ``mel`` windows (option ``x``: ``x`` extra local iterations, cost:
the samples the device can no longer hold).

Method (every step vectorised over rows):

1. *LP bound.* The upper concave hull of each row's ``(cost, value)`` points
   (gift wrapping, at most ``J`` passes), then Dantzig's greedy over all hull
   increments sorted by slope: the LP optimum, with one fractional row.
2. *Incumbent.* The LP's integral prefix, extended greedily with the best
   upgrade that still fits until none does.
3. *Proof or reduction.* Values are integers, so ``floor(LP)`` bounds the
   optimum; an incumbent reaching it is optimal. Otherwise, with the LP's
   multiplier :math:`\lambda`, every solution of cost ``<= W`` has value
   ``<= g(lambda) - sum_i r_{i, j_i}`` where ``r >= 0`` are reduced costs;
   options whose reduced cost exceeds ``g - (incumbent + 1)`` cannot be part of
   a better solution and are removed. Rows left with one option are fixed.
4. *Core.* The remaining rows are solved exactly by a dynamic program over
   total value (minimum cost per value), merged pairwise in a balanced tree
   of (min, +) convolutions.

The returned ``bound`` is ``floor(LP)``; when the core search finds nothing
better than the incumbent, the incumbent is optimal by the reduction argument.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

__all__ = ["MckpSolution", "solve_mckp"]

_EPS = 1e-9


@dataclasses.dataclass(frozen=True)
class MckpSolution:
    """Result of :func:`solve_mckp`.

    ``choice`` is ``None`` when no solution reaches ``target`` (or none is
    feasible); ``value`` is then ``-inf``. ``lp_bound`` is the LP relaxation's
    value, ``core_rows`` the number of rows the exact core search needed.
    """

    choice: NDArray[np.int64] | None
    value: float
    lp_bound: float
    core_rows: int


def _hull_increments(values: NDArray[np.float64], costs: NDArray[np.float64]):
    """Upper concave hull increments of each row: (row, src, dst, dv, dw, step)."""
    n, J = values.shape
    valid = np.isfinite(costs)
    start = np.argmax(valid, axis=1)  # first valid option = cheapest (costs sorted)
    cur = start.copy()
    rows = np.arange(n)
    out_r, out_s, out_d, out_step = [], [], [], []
    alive = valid.any(axis=1)
    step = 0
    cols = np.arange(J)
    while alive.any():
        vc = values[rows, cur][:, None]
        wc = costs[rows, cur][:, None]
        cand = valid & (cols[None, :] > cur[:, None]) & alive[:, None]
        dw = costs - wc
        dv = values - vc
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(cand & (dw > 0), dv / dw, -np.inf)
            slope = np.where(cand & (dw <= 0), np.inf, slope)  # free upgrade
        best = np.argmax(slope, axis=1)  # first maximum = nearest on ties
        has = cand.any(axis=1)
        r = rows[has]
        out_r.append(r)
        out_s.append(cur[has])
        out_d.append(best[has])
        out_step.append(np.full(r.size, step))
        cur = np.where(has, best, cur)
        alive = has
        step += 1
    if out_r:
        r = np.concatenate(out_r)
        src = np.concatenate(out_s)
        dst = np.concatenate(out_d)
        stp = np.concatenate(out_step)
    else:
        r = src = dst = stp = np.zeros(0, np.int64)
    dv = values[r, dst] - values[r, src]
    dw = costs[r, dst] - costs[r, src]
    return start, r, src, dst, dv, dw, stp


def _greedy_fill(values, costs, choice, budget):
    """Apply the best single upgrade that fits, repeatedly (incumbent improvement)."""
    n = values.shape[0]
    rows = np.arange(n)
    used = float(costs[rows, choice].sum())
    for _ in range(4 * values.shape[1] + 8):
        rem = budget - used
        gain = values - values[rows, choice][:, None]
        extra = costs - costs[rows, choice][:, None]
        ok = np.isfinite(costs) & (gain > 0) & (extra <= rem + _EPS * max(1.0, abs(budget)))
        if not ok.any():
            break
        score = np.where(ok, gain - 1e-12 * extra / max(1.0, abs(budget)), -np.inf)
        flat = int(np.argmax(score))
        i, j = divmod(flat, values.shape[1])
        used += float(extra[i, j])
        choice[i] = j
    return choice


def _minplus_tree(values, costs, keep, budget):
    """Exact DP over the core rows: max total value with cost <= budget.

    ``values``/``costs``/``keep`` are the core rows' ``(m, J)`` arrays; the
    table of a row maps a value offset to the minimum cost reaching it.
    """
    m = values.shape[0]
    vals = np.where(keep, values, np.inf)
    base = vals.min(axis=1)
    offs = np.where(keep, values - base[:, None], 0).astype(np.int64)
    width = int(offs.max()) + 1
    table = np.full((m, width), np.inf)
    argopt = np.full((m, width), -1, dtype=np.int64)
    ri, ci = np.nonzero(keep)
    table[ri, offs[ri, ci]] = costs[ri, ci]
    argopt[ri, offs[ri, ci]] = ci
    levels: list[NDArray[np.int64]] = []
    while table.shape[0] > 1:
        if table.shape[0] % 2:
            pad = np.full((1, table.shape[1]), np.inf)
            pad[0, 0] = 0.0
            table = np.vstack([table, pad])
        left, right = table[0::2], table[1::2]
        a = left.shape[1]
        b = right.shape[1]
        merged = np.full((left.shape[0], a + b - 1), np.inf)
        arg = np.zeros((left.shape[0], a + b - 1), dtype=np.int64)
        for j in range(b):  # loop over value offsets of the right operand, not rows
            cand = left + right[:, j : j + 1]
            seg = merged[:, j : j + a]
            better = cand < seg
            seg[better] = cand[better]
            arg[:, j : j + a][better] = j
        levels.append(arg)
        table = merged
    final = table[0]
    feasible = np.flatnonzero(final <= budget + _EPS * max(1.0, abs(budget)))
    if feasible.size == 0:
        return None, -np.inf
    best = int(feasible.max())
    # Walk the tree back down to the rows.
    pos = np.array([best], dtype=np.int64)
    for arg in reversed(levels):
        pos = pos[: arg.shape[0]]  # drop padding rows
        j = arg[np.arange(pos.size), pos]
        pos = np.stack([pos - j, j], axis=1).reshape(-1)
    pos = pos[:m]
    choice = argopt[np.arange(m), pos]
    return choice, float(best + base.sum())


def solve_mckp(
    values: NDArray[np.float64],
    costs: NDArray[np.float64],
    budget: float,
    *,
    target: float = -np.inf,
) -> MckpSolution:
    """Solve the multiple-choice knapsack exactly (see module docstring).

    Parameters
    ----------
    values, costs
        ``(n, J)`` arrays; ``inf`` cost marks an unavailable option. Per row,
        costs non-decreasing and values strictly increasing along columns.
    budget
        Capacity ``W``.
    target
        Only solutions of value ``>= target`` are of interest; when the LP
        bound proves none exists the search stops early (``choice`` is None).
    """
    values = np.asarray(values, dtype=float)
    costs = np.asarray(costs, dtype=float).copy()
    n = values.shape[0]
    rows = np.arange(n)
    tol = _EPS * max(1.0, abs(budget))
    # An option with the same cost as the next one is dominated (less value).
    finite = np.isfinite(costs)
    dominated = np.zeros_like(finite)
    dominated[:, :-1] = finite[:, 1:] & (costs[:, :-1] >= costs[:, 1:])
    costs[dominated] = np.inf
    start, r, _, dst, dv, dw, stp = _hull_increments(values, costs)
    if not np.isfinite(costs).any(axis=1).all():
        return MckpSolution(None, -np.inf, -np.inf, 0)
    v0 = float(values[rows, start].sum())
    w0 = float(costs[rows, start].sum())
    if w0 > budget + tol:
        return MckpSolution(None, -np.inf, -np.inf, 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        slope = np.where(dw > 0, dv / dw, np.inf)
    order = np.lexsort((stp, -slope))
    cum = w0 + np.cumsum(dw[order])
    p = int(np.searchsorted(cum, budget + tol, side="right"))
    choice = start.copy()
    taken = order[:p]
    # Each row's taken increments are a prefix of its hull; the last one decides.
    last = np.full(n, -1)
    np.maximum.at(last, r[taken], stp[taken])
    sel = taken[stp[taken] == last[r[taken]]]
    choice[r[sel]] = dst[sel]
    if p == order.size:  # everything fits: every row at its best option
        value = float(values[rows, choice].sum())
        ok = value >= target - _EPS
        return MckpSolution(choice if ok else None, value if ok else -np.inf, value, 0)
    brk = order[p]
    used = cum[p - 1] if p > 0 else w0
    lam = float(dv[brk] / dw[brk])
    lp = v0 + float(dv[order[:p]].sum()) + (budget - used) / dw[brk] * dv[brk]
    bound = np.floor(lp + 1e-7)
    if bound < target - _EPS:
        return MckpSolution(None, -np.inf, lp, 0)
    choice = _greedy_fill(values, costs, choice, budget)
    inc = float(values[rows, choice].sum())
    if inc >= bound - _EPS:
        return MckpSolution(choice, inc, lp, 0)
    # Reduction by reduced costs with the LP multiplier.
    score = np.where(np.isfinite(costs), values - lam * costs, -np.inf)
    h = score.max(axis=1)
    g = lam * budget + float(h.sum())
    need = max(inc + 1.0, target)
    slack = g - need
    if slack < -1e-7:
        ok = inc >= target - _EPS
        return MckpSolution(choice if ok else None, inc if ok else -np.inf, lp, 0)
    keep = (h[:, None] - score) <= slack + 1e-7 * max(1.0, abs(g))
    nkeep = keep.sum(axis=1)
    fixed = nkeep == 1
    fixed_opt = np.argmax(keep, axis=1)
    core = np.flatnonzero(~fixed)
    fval = float(values[rows[fixed], fixed_opt[fixed]].sum())
    fcost = float(costs[rows[fixed], fixed_opt[fixed]].sum())
    cbudget = budget - fcost
    if core.size == 0 or cbudget < -tol:
        ok = inc >= target - _EPS
        return MckpSolution(choice if ok else None, inc if ok else -np.inf, lp, int(core.size))
    sub, subval = _minplus_tree(values[core], costs[core], keep[core], cbudget)
    if sub is not None and subval + fval > inc + 0.5:
        out = fixed_opt.copy()
        out[core] = sub
        value = float(values[rows, out].sum())
        ok = value >= target - _EPS
        return MckpSolution(out if ok else None, value if ok else -np.inf, lp, int(core.size))
    ok = inc >= target - _EPS
    return MckpSolution(choice if ok else None, inc if ok else -np.inf, lp, int(core.size))
