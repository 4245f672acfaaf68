r"""Online distributed least-squares regression under an offloading plan.

The learning side of *collaborative learning for XR* (the XR offloading paper,
Section II-A). ``N`` users collect new points every iteration and train a
common linear model :math:`y = X\beta^* + z`, :math:`z \sim \mathcal N(0, \sigma^2)`,
by batched online SGD:

.. math::

    \beta^{(t+1)} = \beta^{(t)} - \alpha_t \nabla L^{(t)}, \qquad
    \nabla L = X^T (X\beta - y) = \sum_{i=1}^N X_i^T (X_i\beta - y_i)

(Section II-A, "Online stochastic gradient descent"). Offloading changes *who*
computes which partial gradient, never *which* points enter the gradient:

* ``offload-server`` (Strategy #1): user ``i`` computes the partial gradient of
  the ``l_i - o_i`` points it keeps, the server that of all offloaded points;
* ``offload-d2d`` (Strategy #2): user ``j`` computes the gradient of its kept
  points plus the ``o_ij`` points each user ``i`` sent it.

The global gradient is the sum of the partial gradients; in exact arithmetic
it is the no-offloading gradient :math:`\sum_i X_i^T(X_i\beta - y_i)`, so the
model trajectory versus *iterations* does not depend on the plan. What the
plan changes is the *time* an iteration takes, ``problem.evaluate(o).iteration_time``
(the physics of :mod:`edgealloc.offload.problem`); the simulated clock here
advances by exactly that, so loss versus simulated time shows the speed-up.

Which points are offloaded (deterministic)
------------------------------------------
User ``i``'s ``l_i`` points of an iteration come in the stream's order. It
keeps the *first* ``l_i - sum_j o_ij`` and offloads the *last* ones; for D2D
the offloaded block is split by receiver in increasing receiver index
(``o_i0`` points to user 0, then ``o_i1`` to user 1, ...). See
:func:`assign_workers`.

Floating point
--------------
``reduction="partial"`` (the default, what a real deployment does) sums each
worker's partial gradient and then the partial gradients. Regrouping a
floating-point sum changes its rounding, so the result equals the
no-offloading gradient only to about ``sqrt(l) * eps`` relative to
:math:`\sum_k |r_k|\,\|x_k\|` (``r_k`` the residual of point ``k``): far below
``1e-12``, but not bitwise. ``reduction="canonical"`` sums the per-point terms
:math:`x_k r_k` over *all* points in the stream's fixed order, whoever computed
them (the server would need the per-point terms, or an exact accumulator): its
gradient, and the whole trajectory, are then bitwise identical under every
plan. Residuals :math:`r_k = x_k^T\beta - y_k` are computed once per point in
both modes (they do not depend on who computes them).

Examples
--------
>>> import numpy as np
>>> from edgealloc.offload import OffloadServerProblem
>>> p = OffloadServerProblem(points=[40, 60], compute_rate=[1e3, 4e3],
...                          uplink_rate=[1e4, 1e4], server_rate=1e4)
>>> stream = LinearStream(n_features=5, noise_std=0.0, seed=1)
>>> traces = train_online(stream, {"none": Strategy(p, "none"),
...                                "server": Strategy(p, [20, 0])}, iterations=30)
>>> bool(traces["server"].end_time_s < traces["none"].end_time_s)
True
>>> bool(np.allclose(traces["server"].test_loss, traces["none"].test_loss, rtol=1e-9))
True
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike, NDArray

from ..errors import ValidationError
from ..offload.problem import OffloadD2DProblem, OffloadServerProblem

__all__ = [
    "Batch",
    "LinearStream",
    "OnlineTrace",
    "PartialGradients",
    "Strategy",
    "assign_workers",
    "draw_points",
    "gradient_scale",
    "offloaded_gradient",
    "reference_gradient",
    "train_online",
]

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
OffloadProblem = OffloadServerProblem | OffloadD2DProblem
Planner = Callable[[Any], ArrayLike]
Reduction = Literal["partial", "canonical"]


# ---------------------------------------------------------------------------
# The data stream
# ---------------------------------------------------------------------------
def _positive(field: str, value: Any, *, integer: bool = False, zero: bool = False) -> Any:
    kind = (int, np.integer) if integer else (int, float, np.integer, np.floating)
    if isinstance(value, bool) or not isinstance(value, kind):
        what = "an integer" if integer else "a real number"
        raise ValidationError(field, f"must be {what} (got {value!r})")
    if not math.isfinite(float(value)) or value < 0 or (value == 0 and not zero):
        bound = ">= 0" if zero else "> 0"
        raise ValidationError(field, f"must be {bound} and finite (got {value!r})")
    return int(value) if integer else float(value)


@dataclasses.dataclass(frozen=True)
class Batch:
    """One iteration's data: every user's new points, stacked user by user.

    Attributes
    ----------
    t
        Iteration index.
    X
        ``(L, d)`` features; rows ``starts[i]:starts[i] + points[i]`` are user ``i``'s.
    y
        ``(L,)`` observations :math:`y = X\\beta^*(t) + z`.
    points
        ``(N,)`` points per user, ``l_i^{(t)}``.
    beta_star
        The true model :math:`\\beta^*(t)` of this iteration.
    """

    t: int
    X: FloatArray
    y: FloatArray
    points: IntArray
    beta_star: FloatArray

    @property
    def n_points(self) -> int:
        """``L = sum_i l_i``."""
        return int(self.y.shape[0])

    @property
    def owner(self) -> IntArray:
        """``(L,)`` the user who collected each point."""
        return np.repeat(np.arange(self.points.shape[0]), self.points)


@dataclasses.dataclass(frozen=True)
class LinearStream:
    r"""Synthetic online linear-regression stream :math:`y = X\beta^*(t) + z` (Section II-A).

    Features have zero mean and diagonal covariance
    :math:`\Sigma = \mathrm{diag}(\lambda_1, \dots, \lambda_d)`, eigenvalues
    geometrically spaced from 1 down to ``1 / condition`` (``condition = 1``:
    isotropic); independent coordinates, uniform on
    :math:`[-\sqrt{3\lambda_k}, \sqrt{3\lambda_k}]` (``features="uniform"``,
    the default: several times cheaper to draw than Gaussians, and only
    :math:`\Sigma` enters the loss) or Gaussian :math:`\mathcal N(0, \lambda_k)`
    (``features="gaussian"``). The paper gives no feature distribution; a
    condition number above 1 makes SGD take tens of iterations instead of a
    handful, so that curves versus time are informative.

    The true model has unit norm. With ``drift = 0`` it is fixed; otherwise it
    rotates slowly in a random plane, :math:`\beta^*(t) = \cos(\omega t)\,u +
    \sin(\omega t)\,v` (``u``, ``v`` orthonormal, :math:`\omega` = ``drift``
    radians per iteration): the paper's time-varying :math:`\beta^{(t)}_*`,
    random-access in ``t`` and of constant norm.

    Every iteration's data depend only on ``(seed, t)`` and the points per
    user, so any number of strategies can be trained on the same stream.

    Parameters
    ----------
    n_features
        ``d`` (Table I: 250).
    noise_std
        :math:`\sigma`, standard deviation of the observation noise ``z``.
    condition
        :math:`\lambda_{max} / \lambda_{min}` of :math:`\Sigma`, >= 1.
    drift
        Rotation of :math:`\beta^*` per iteration (radians), >= 0.
    seed
        Seed of the model and of every iteration's draw.
    features
        ``"uniform"`` or ``"gaussian"`` (see above).
    """

    n_features: int = 250
    noise_std: float = 0.1
    condition: float = 10.0
    drift: float = 0.0
    seed: int = 0
    features: Literal["uniform", "gaussian"] = "uniform"

    def __post_init__(self) -> None:
        _positive("n_features", self.n_features, integer=True)
        _positive("noise_std", self.noise_std, zero=True)
        if _positive("condition", self.condition) < 1:
            raise ValidationError("condition", f"must be >= 1 (got {self.condition!r})")
        _positive("drift", self.drift, zero=True)
        _positive("seed", self.seed, integer=True, zero=True)
        if self.features not in ("uniform", "gaussian"):
            raise ValidationError(
                "features", f"must be 'uniform' or 'gaussian' (got {self.features!r})"
            )
        d = int(self.n_features)
        spectrum = float(self.condition) ** (-np.arange(d) / max(d - 1, 1))
        rng = np.random.default_rng([int(self.seed), 0])
        basis = rng.standard_normal((d, 2))
        u = basis[:, 0] / np.linalg.norm(basis[:, 0])
        v = basis[:, 1] - (basis[:, 1] @ u) * u
        nv = np.linalg.norm(v)
        v = v / nv if nv > 0 else np.zeros(d)  # d = 1: no plane to rotate in
        for arr in (spectrum, u, v):
            arr.setflags(write=False)
        object.__setattr__(self, "_spectrum", spectrum)
        object.__setattr__(self, "_uv", (u, v))

    @property
    def spectrum(self) -> FloatArray:
        """Eigenvalues :math:`\\lambda_k` of the feature covariance (the diagonal of Σ)."""
        return self._spectrum  # type: ignore[attr-defined,no-any-return]

    @property
    def lambda_max(self) -> float:
        """Largest eigenvalue of Σ (= 1): :math:`E[X^TX] = L\\,\\Sigma` for ``L`` points."""
        return float(self.spectrum[0])

    def beta_star(self, t: int) -> FloatArray:
        """The true model :math:`\\beta^*(t)` of iteration ``t``."""
        u, v = self._uv  # type: ignore[attr-defined]
        if self.drift == 0:
            return np.array(u)
        w = self.drift * t
        return math.cos(w) * u + math.sin(w) * v

    def draw(self, t: int, points: ArrayLike) -> Batch:
        """Iteration ``t``'s data: ``points[i]`` new points for every user ``i``."""
        l = _points_vector(points, "points")
        rng = np.random.default_rng([int(self.seed), 1, int(t)])
        n = int(l.sum())
        if self.features == "gaussian":
            X = rng.standard_normal((n, self.n_features))
            X *= np.sqrt(self.spectrum)
        else:
            X = rng.random((n, self.n_features))
            X -= 0.5
            X *= np.sqrt(12.0 * self.spectrum)  # U[-sqrt(3 lambda), sqrt(3 lambda)]
        beta = self.beta_star(t)
        y = _matvec(X, beta)
        if self.noise_std > 0:
            y += self.noise_std * rng.standard_normal(n)
        return Batch(t=int(t), X=X, y=y, points=l, beta_star=beta)

    def population_loss(self, beta: ArrayLike, t: int) -> float:
        r"""Expected loss per point on fresh data, :math:`\tfrac12 E[(x^T\beta - y)^2]`.

        Closed form :math:`\tfrac12\bigl((\beta-\beta^*)^T\Sigma(\beta-\beta^*) + \sigma^2\bigr)`:
        a held-out loss without held-out sampling noise. Its floor is
        :math:`\sigma^2/2`.
        """
        e = np.asarray(beta, float) - self.beta_star(t)
        return 0.5 * (float(self.spectrum @ (e * e)) + self.noise_std**2)


def _points_vector(points: ArrayLike, field: str) -> IntArray:
    a = np.asarray(points)
    if a.ndim != 1 or a.size == 0:
        raise ValidationError(field, f"must be a non-empty vector of point counts (got {a.shape})")
    if not np.issubdtype(a.dtype, np.number) or not np.isfinite(a).all():
        raise ValidationError(field, "must be finite numbers")
    if (a < 0).any() or (a != np.round(a)).any():
        raise ValidationError(field, "must be whole numbers >= 0")
    return a.astype(np.int64)


def draw_points(
    n_users: int, iterations: int, low: int, high: int, rng: np.random.Generator | int | None
) -> IntArray:
    """Points per user and iteration, :math:`l_i^{(t)} \\sim U\\{low, ..., high\\}` (Section IV-A).

    Returns an ``(iterations, n_users)`` integer array, for ``points=`` of
    :func:`train_online`.
    """
    n_users = _positive("n_users", n_users, integer=True)
    iterations = _positive("iterations", iterations, integer=True)
    low = _positive("low", low, integer=True, zero=True)
    high = _positive("high", high, integer=True, zero=True)
    if high < low:
        raise ValidationError("high", f"must be >= low = {low} (got {high})")
    gen = np.random.default_rng(rng)
    return gen.integers(low, high + 1, size=(iterations, n_users)).astype(np.int64)


# ---------------------------------------------------------------------------
# One iteration: who computes what
# ---------------------------------------------------------------------------
def _check_plan(points: IntArray, offloaded: ArrayLike) -> IntArray:
    o = np.asarray(offloaded, dtype=float)
    n = points.shape[0]
    if o.shape not in ((n,), (n, n)):
        raise ValidationError(
            "offloaded", f"must have shape ({n},) (server) or ({n}, {n}) (D2D) (got {o.shape})"
        )
    if not np.isfinite(o).all():
        raise ValidationError("offloaded", "must be finite")
    rounded = np.round(o)
    if (np.abs(o - rounded) > 1e-9 * np.maximum(1.0, np.abs(o))).any():
        raise ValidationError("offloaded", "must be whole numbers of points")
    oi = rounded.astype(np.int64)
    if (oi < 0).any():
        raise ValidationError("offloaded", "must be >= 0")
    if oi.ndim == 2 and (np.diag(oi) != 0).any():
        raise ValidationError("offloaded", "a user cannot offload to itself (diagonal must be 0)")
    sent = oi if oi.ndim == 1 else oi.sum(axis=1)
    over = np.flatnonzero(sent > points)
    if over.size:
        i = int(over[0])
        raise ValidationError(
            "offloaded", f"user {i} offloads {int(sent[i])} points but holds {int(points[i])}"
        )
    return oi


def assign_workers(points: ArrayLike, offloaded: ArrayLike) -> tuple[IntArray, int]:
    """Who computes the gradient of each point under a whole-point plan.

    Parameters
    ----------
    points
        ``(N,)`` points per user; the batch holds user 0's points first, then
        user 1's, and so on.
    offloaded
        ``(N,)`` server plan ``o_i`` (``offload-server``) or ``(N, N)`` D2D plan
        ``o_ij`` (``offload-d2d``), whole points.

    Returns
    -------
    worker : ndarray, shape (L,)
        The worker of each point: users ``0..N-1``, the server ``N``.
    n_workers
        ``N + 1`` for a server plan, ``N`` for a D2D plan.

    Notes
    -----
    User ``i`` keeps its *first* ``l_i - sum_j o_ij`` points and offloads the
    *last* ones; a D2D block goes to receivers in increasing index.

    Examples
    --------
    >>> assign_workers([3, 2], [1, 2])[0].tolist()
    [0, 0, 2, 2, 2]
    >>> assign_workers([3, 2], [[0, 2], [1, 0]])[0].tolist()
    [0, 1, 1, 1, 0]
    """
    l = _points_vector(points, "points")
    o = _check_plan(l, offloaded)
    n = l.shape[0]
    if o.ndim == 1:
        owner = np.repeat(np.arange(n), l)
        start = np.concatenate(([0], np.cumsum(l)[:-1]))
        position = np.arange(int(l.sum())) - np.repeat(start, l)
        keep = np.repeat(l - o, l)
        return np.where(position < keep, owner, n), n + 1
    # blocks per user: [kept -> i, o_i0 -> 0, o_i1 -> 1, ...], row-major
    dest = np.empty((n, n + 1), dtype=np.int64)
    dest[:, 0] = np.arange(n)
    dest[:, 1:] = np.arange(n)[None, :]
    counts = np.empty((n, n + 1), dtype=np.int64)
    counts[:, 0] = l - o.sum(axis=1)
    counts[:, 1:] = o
    return np.repeat(dest.ravel(), counts.ravel()), n


@dataclasses.dataclass(frozen=True)
class PartialGradients:
    """The partial gradients of one iteration under a plan.

    Attributes
    ----------
    partials
        ``(W, d)``: row ``w`` is worker ``w``'s :math:`X_w^T(X_w\\beta - y_w)`
        (users ``0..N-1``; for a server plan, row ``N`` is the server).
    gradient
        ``(d,)`` the global gradient :math:`\\nabla L` (see ``reduction``).
    worker
        ``(L,)`` the worker of each point (:func:`assign_workers`).
    residual
        ``(L,)`` :math:`r_k = x_k^T\\beta - y_k`, computed once per point.
    """

    partials: FloatArray
    gradient: FloatArray
    worker: IntArray
    residual: FloatArray


def _matvec(X: FloatArray, b: FloatArray) -> FloatArray:
    """``X @ b`` without BLAS threads.

    NumPy's own loop: multi-threaded BLAS ``gemv`` on these tall, thin
    matrices gains little and, with spin-waiting threads, slows everything
    else down when experiments run one process per core.
    """
    return np.einsum("ij,j->i", X, b)


def _segment_sums(X: FloatArray, r: FloatArray, worker: IntArray, n_workers: int) -> FloatArray:
    """``(W, d)``: row ``w`` sums ``r_k x_k`` over worker ``w``'s points ``k``, in point order."""
    L = r.shape[0]
    A = sp.csr_matrix((r, (worker, np.arange(L))), shape=(n_workers, L))
    return np.asarray(A @ X)


def _residual(batch: Batch, beta: ArrayLike) -> FloatArray:
    b = np.asarray(beta, dtype=float)
    if b.shape != (batch.X.shape[1],):
        raise ValidationError("beta", f"must have shape ({batch.X.shape[1]},) (got {b.shape})")
    return _matvec(batch.X, b) - batch.y


def _check_reduction(reduction: Any) -> None:
    if reduction not in ("partial", "canonical"):
        raise ValidationError("reduction", f"must be 'partial' or 'canonical' (got {reduction!r})")


def _gradients(
    batch: Batch, r: FloatArray, offloaded: ArrayLike, reduction: Reduction
) -> PartialGradients:
    worker, n_workers = assign_workers(batch.points, offloaded)
    partials = _segment_sums(batch.X, r, worker, n_workers)
    if reduction == "canonical":
        gradient = np.einsum("i,ij->j", r, batch.X)  # per point, in stream order
    else:
        gradient = partials.sum(axis=0)
    return PartialGradients(partials=partials, gradient=gradient, worker=worker, residual=r)


def offloaded_gradient(
    batch: Batch, beta: ArrayLike, offloaded: ArrayLike, *, reduction: Reduction = "partial"
) -> PartialGradients:
    """Partial gradients of one iteration under a plan, and their sum.

    Parameters
    ----------
    batch
        The iteration's data (:meth:`LinearStream.draw`).
    beta
        Current model :math:`\\beta^{(t)}`.
    offloaded
        Whole-point plan: ``(N,)`` for the server, ``(N, N)`` for D2D.
    reduction
        ``"partial"``: :math:`\\nabla L = \\sum_w X_w^T(X_w\\beta - y_w)` over the
        workers (equal to the no-offloading gradient to rounding);
        ``"canonical"``: the per-point terms summed in the stream's order
        (bitwise the same under every plan). See the module docstring.

    Examples
    --------
    >>> stream = LinearStream(n_features=3, seed=0)
    >>> batch = stream.draw(0, [4, 5])
    >>> pg = offloaded_gradient(batch, [1.0, 0.0, 0.0], [[0, 2], [1, 0]])
    >>> pg.partials.shape, pg.worker.tolist()
    ((2, 3), [0, 0, 1, 1, 1, 1, 1, 1, 0])
    """
    _check_reduction(reduction)
    return _gradients(batch, _residual(batch, beta), offloaded, reduction)


def reference_gradient(
    batch: Batch, beta: ArrayLike, *, reduction: Reduction = "partial"
) -> FloatArray:
    r"""The no-offloading gradient :math:`\sum_{i=1}^N X_i^T(X_i\beta - y_i)` (Section II-A).

    Each user's partial gradient over its own points, summed over users in
    index order (``reduction="partial"``), or the per-point terms in stream
    order (``"canonical"``).
    """
    n = batch.points.shape[0]
    return offloaded_gradient(batch, beta, np.zeros(n), reduction=reduction).gradient


def gradient_scale(batch: Batch, residual: ArrayLike) -> float:
    r""":math:`\sum_k |r_k|\,\|x_k\|_2`: an upper bound of :math:`\|\nabla L\|` and the
    natural scale of its rounding errors (sums of the same terms regrouped
    differ by at most about ``L * eps`` times it, typically ``sqrt(L) * eps``)."""
    norms = np.sqrt(np.einsum("ij,ij->i", batch.X, batch.X))
    return float(np.einsum("i,i->", np.abs(np.asarray(residual, float)), norms))


# ---------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Strategy:
    """An offloading problem and how to plan each iteration on it.

    Parameters
    ----------
    problem
        :class:`~edgealloc.offload.OffloadServerProblem` or
        :class:`~edgealloc.offload.OffloadD2DProblem`: the rates. Its ``points``
        are replaced by each iteration's points before planning.
    plan
        ``"none"`` (no offloading); another scheme name, solved every
        iteration with :func:`edgealloc.solve` (a scheme that returns whole
        points: ``"optimal"``, ``"paper"``; ``"relaxed"`` shares are
        fractional and refused); a fixed
        whole-point plan (array); or a callable ``problem -> offloaded``.
        Plans are cached per distinct points vector.
    """

    problem: Any
    plan: str | ArrayLike | Planner = "optimal"

    def __post_init__(self) -> None:
        if not isinstance(self.problem, OffloadServerProblem | OffloadD2DProblem):
            raise ValidationError(
                "problem",
                "must be an OffloadServerProblem or OffloadD2DProblem "
                f"(got {type(self.problem).__name__})",
            )

    def planner(self) -> Callable[[Any], IntArray]:
        """A function ``problem_t -> offloaded`` (whole points) for this strategy."""
        p = self.problem
        shape = (p.n_users,) if isinstance(p, OffloadServerProblem) else (p.n_users, p.n_users)
        plan = self.plan
        if isinstance(plan, str):
            if plan == "none":
                return lambda _p: np.zeros(shape, dtype=np.int64)
            from ..api import solve

            def by_scheme(prob: Any) -> IntArray:
                res = solve(prob, plan)
                return np.asarray(res.allocation.offloaded_points)

            return by_scheme
        if callable(plan):
            return lambda prob: np.asarray(plan(prob))
        fixed = np.asarray(plan)
        if fixed.shape != shape:
            raise ValidationError("plan", f"must have shape {shape} (got {fixed.shape})")
        return lambda _p: fixed


@dataclasses.dataclass(frozen=True)
class OnlineTrace:
    """What :func:`train_online` recorded for one strategy, one row per iteration ``t``.

    Every row describes the model :math:`\\beta^{(t)}` at the start of iteration
    ``t`` (before its update).

    Attributes
    ----------
    name
        The strategy's name.
    iteration
        ``t = 0..K-1``.
    sim_time_s
        Simulated time at which :math:`\\beta^{(t)}` is available (0 for ``t = 0``):
        :math:`S_t = \\sum_{s<t} T_s`.
    iteration_time_s
        :math:`T_t`, ``problem_t.evaluate(o_t).iteration_time``; ``S_{t+1} = S_t + T_t``.
    train_loss
        :math:`\\tfrac{1}{2L_t}\\|X^{(t)}\\beta^{(t)} - y^{(t)}\\|^2`: the paper's
        :math:`L(\\beta)` per point on the iteration's own data before the update.
    test_loss
        :meth:`LinearStream.population_loss` of :math:`\\beta^{(t)}` (held-out, exact).
    param_error
        :math:`\\|\\beta^{(t)} - \\beta^*(t)\\|_2`.
    grad_deviation
        :math:`\\|\\nabla L_{plan} - \\nabla L_{none}\\|_2 / \\sum_k |r_k|\\|x_k\\|`:
        how far the plan's gradient is from the no-offloading one (rounding only).
    offloaded
        Points that left their user in iteration ``t``.
    beta
        The final model :math:`\\beta^{(K)}`.
    end_time_s
        :math:`S_K`, when :math:`\\beta^{(K)}` is available.
    """

    name: str
    iteration: IntArray
    sim_time_s: FloatArray
    iteration_time_s: FloatArray
    train_loss: FloatArray
    test_loss: FloatArray
    param_error: FloatArray
    grad_deviation: FloatArray
    offloaded: IntArray
    beta: FloatArray
    end_time_s: float

    COLUMNS = (
        "iteration",
        "sim_time_s",
        "iteration_time_s",
        "train_loss",
        "test_loss",
        "param_error",
        "grad_deviation",
        "offloaded",
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready columns (lists), plus ``name``, ``beta`` and ``end_time_s``."""
        out: dict[str, Any] = {"name": self.name}
        for c in self.COLUMNS:
            out[c] = getattr(self, c).tolist()
        out["beta"] = self.beta.tolist()
        out["end_time_s"] = self.end_time_s
        return out

    def time_to(self, threshold: float, metric: str = "test_loss") -> float:
        """First simulated time at which ``metric <= threshold`` (``nan`` if never)."""
        values = np.asarray(getattr(self, metric))
        hit = np.flatnonzero(values <= threshold)
        return float(self.sim_time_s[hit[0]]) if hit.size else math.nan


def _points_schedule(points: ArrayLike | None, default: IntArray, iterations: int) -> IntArray:
    if points is None:
        return np.broadcast_to(default, (iterations, default.shape[0]))
    a = np.asarray(points)
    if a.ndim == 1:
        a = np.broadcast_to(_points_vector(a, "points"), (iterations, a.shape[0]))
    elif a.ndim == 2:
        if a.shape[0] < iterations:
            raise ValidationError(
                "points", f"has {a.shape[0]} rows, fewer than iterations = {iterations}"
            )
        a = np.stack([_points_vector(row, "points") for row in a[:iterations]])
    else:
        raise ValidationError("points", f"must be (N,) or (iterations, N) (got {a.shape})")
    if a.shape[1] != default.shape[0]:
        raise ValidationError(
            "points", f"has {a.shape[1]} users; the problems have {default.shape[0]}"
        )
    return a


def train_online(
    stream: LinearStream,
    strategies: Mapping[str, Strategy],
    *,
    iterations: int,
    points: ArrayLike | None = None,
    learning_rate: float | None = None,
    lr_scale: float = 1.0,
    beta0: ArrayLike | None = None,
    reduction: Reduction = "partial",
    check_gradient: bool = True,
) -> dict[str, OnlineTrace]:
    r"""Batched online SGD on one data stream under several offloading strategies.

    All strategies see the same data (drawn once per iteration) and start
    from the same :math:`\beta^{(0)}`. Iteration ``t`` of a strategy: set the
    problem's points to :math:`l^{(t)}`, plan :math:`o^{(t)}`, compute the
    partial gradients under the plan (:func:`offloaded_gradient`), update
    :math:`\beta \leftarrow \beta - \alpha_t \nabla L`, and advance the clock
    by ``problem_t.evaluate(o_t).iteration_time`` (the plan is never changed
    here: an infeasible plan is an error).

    Parameters
    ----------
    stream
        The data (:class:`LinearStream`).
    strategies
        Name -> :class:`Strategy`; all problems must have the same number of users.
    iterations
        ``K``, number of SGD iterations.
    points
        ``None``: the first strategy's ``problem.points`` every iteration;
        ``(N,)``: these every iteration; ``(K, N)``: per iteration (e.g.
        :func:`draw_points`).
    learning_rate
        A fixed :math:`\alpha`. Default: :math:`\alpha_t = \text{lr\_scale} /
        (L_t \lambda_{max}(\Sigma))`, one over the largest eigenvalue of the
        expected Hessian :math:`E[X^TX] = L_t\Sigma` of the iteration's
        :math:`L_t = \sum_i l_i^{(t)}` points. For :math:`L_t \gg d` the
        sample Hessian is close to its expectation and ``lr_scale`` < 2 is
        stable; the slowest direction contracts by :math:`1 - \text{lr\_scale}
        / \kappa` per iteration (:math:`\kappa` = ``stream.condition``).
    lr_scale
        See ``learning_rate``.
    beta0
        Initial model (default zeros).
    reduction
        ``"partial"`` or ``"canonical"`` (:func:`offloaded_gradient`).
    check_gradient
        Record ``grad_deviation`` (costs one more pass over the data).

    Returns
    -------
    dict[str, OnlineTrace]
        One trace per strategy, in the order given.
    """
    iterations = _positive("iterations", iterations, integer=True)
    if not isinstance(stream, LinearStream):
        raise ValidationError("stream", f"must be a LinearStream (got {type(stream).__name__})")
    if not strategies:
        raise ValidationError("strategies", "must name at least one strategy")
    for name, s in strategies.items():
        if not isinstance(s, Strategy):
            raise ValidationError(f"strategies.{name}", f"must be a Strategy (got {s!r})")
    first = next(iter(strategies.values())).problem
    n_users = first.n_users
    for name, s in strategies.items():
        if s.problem.n_users != n_users:
            raise ValidationError(
                f"strategies.{name}", f"has {s.problem.n_users} users, expected {n_users}"
            )
    schedule = _points_schedule(points, first.points.astype(np.int64), iterations)
    if learning_rate is not None:
        learning_rate = _positive("learning_rate", learning_rate)
    lr_scale = _positive("lr_scale", lr_scale)
    _check_reduction(reduction)
    d = stream.n_features
    start = np.zeros(d) if beta0 is None else np.array(beta0, dtype=float)
    if start.shape != (d,) or not np.isfinite(start).all():
        raise ValidationError("beta0", f"must be {d} finite numbers (got shape {start.shape})")

    names = list(strategies)
    planners = {k: strategies[k].planner() for k in names}
    cache: dict[str, dict[bytes, tuple[IntArray, float]]] = {k: {} for k in names}
    beta = {k: start.copy() for k in names}
    clock = dict.fromkeys(names, 0.0)
    cols = {k: {c: np.empty(iterations) for c in OnlineTrace.COLUMNS} for k in names}
    zeros = np.zeros(n_users, dtype=np.int64)  # the no-offloading plan

    for t in range(iterations):
        l_t = np.ascontiguousarray(schedule[t])
        batch = stream.draw(t, l_t)
        L = batch.n_points
        alpha = (
            learning_rate
            if learning_rate is not None
            else (lr_scale / (L * stream.lambda_max) if L > 0 else 0.0)
        )
        for k in names:
            plan, t_iter = _plan(strategies[k], planners[k], cache[k], l_t, k)
            b = beta[k]
            r = _matvec(batch.X, b) - batch.y  # residuals, once per point (plan independent)
            pg = _gradients(batch, r, plan, reduction)
            row = cols[k]
            row["iteration"][t] = t
            row["sim_time_s"][t] = clock[k]
            row["iteration_time_s"][t] = t_iter
            row["train_loss"][t] = 0.5 * float(np.einsum("i,i->", r, r)) / L if L > 0 else math.nan
            row["test_loss"][t] = stream.population_loss(b, t)
            row["param_error"][t] = float(np.linalg.norm(b - batch.beta_star))
            if check_gradient:
                ref = _gradients(batch, r, zeros, reduction).gradient
                dev = float(np.linalg.norm(pg.gradient - ref))
                scale = gradient_scale(batch, r)
                row["grad_deviation"][t] = dev / scale if scale > 0 else dev
            else:
                row["grad_deviation"][t] = math.nan
            sent = plan if plan.ndim == 1 else plan.sum(axis=1)
            row["offloaded"][t] = float(sent.sum())
            beta[k] = b - alpha * pg.gradient
            clock[k] = clock[k] + t_iter
    out: dict[str, OnlineTrace] = {}
    for k in names:
        c = cols[k]
        out[k] = OnlineTrace(
            name=k,
            iteration=c["iteration"].astype(np.int64),
            sim_time_s=c["sim_time_s"],
            iteration_time_s=c["iteration_time_s"],
            train_loss=c["train_loss"],
            test_loss=c["test_loss"],
            param_error=c["param_error"],
            grad_deviation=c["grad_deviation"],
            offloaded=c["offloaded"].astype(np.int64),
            beta=beta[k],
            end_time_s=clock[k],
        )
    return out


def _plan(
    strategy: Strategy,
    planner: Callable[[Any], IntArray],
    cache: dict[bytes, tuple[IntArray, float]],
    l_t: IntArray,
    name: str,
) -> tuple[IntArray, float]:
    """The plan of one iteration and its evaluated iteration time (cached per points vector)."""
    key = l_t.tobytes()
    if key in cache:
        return cache[key]
    p = strategy.problem
    if not np.array_equal(p.points, l_t):
        p = p.replace(points=l_t.tolist())
    raw = planner(p)
    try:
        plan = _check_plan(l_t, raw)
    except ValidationError as exc:
        raise ValidationError(f"strategies.{name}.plan", exc.problem) from None
    expected = (p.n_users,) if isinstance(p, OffloadServerProblem) else (p.n_users, p.n_users)
    if plan.shape != expected:
        raise ValidationError(
            f"strategies.{name}.plan", f"must have shape {expected} (got {plan.shape})"
        )
    ev = p.evaluate(plan)
    if ev.violations:
        raise ValidationError(f"strategies.{name}.plan", ev.violations[0])
    cache[key] = (plan, float(ev.iteration_time))
    return cache[key]
