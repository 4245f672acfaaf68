r"""The device Lagrangian of ``flmar``: one device's best plan at a bandwidth price and round time.

FLMAR.md section 5.5. Dualise the bandwidth budget (12a) with the price
:math:`\lambda > 0` and fix the round time :math:`\tau`. For one device with
cycles :math:`W = K_n\sigma_k` per round (one resolution option) the problem
left is

.. math::

    \Phi(\lambda, \tau) = \min_{b, p, f}\; w\,(p\,\theta + \kappa W f^2) + \lambda b
    \quad\text{s.t.}\quad \theta + W/f \le \tau,\;
    p \in [p_{min}, p_{max}],\; f \in [f_{min}, f_{max}],

with :math:`w = w_1 R_g` and :math:`\theta = d/G(p, b)` the upload time.
:math:`\Phi` is convex and non-increasing in :math:`\tau` (the problem is
convex in :math:`(b, \theta)`, FLMAR.md section 4 item 7) and
:math:`\partial\Phi/\partial\tau = -\mu`, the price of (13a).

Its KKT conditions are solved in closed form along one monotone parameter,
the upload time :math:`\theta`:

* clock (A.6): :math:`f = \mathrm{clip}((\mu / (2 w\kappa))^{1/3}, f_{min}, f_{max})`;
* power, interior (A.18): :math:`\phi(x) = \lambda g / (w N_0 \theta)` with
  :math:`x` the SNR; then :math:`b = d\ln 2/(\theta\ln(1+x))` and
  :math:`\mu = \lambda b/\theta` (so :math:`\lambda b = \mu\theta`);
* power at a bound :math:`P` (:math:`a = gP/N_0`, :math:`v = a/b`):
  :math:`\psi(v) = a\theta/(d\ln 2)` and
  :math:`\mu = \lambda b^2 / (d\ln 2\,\psi'(v)) - wP` (the bandwidth
  stationarity (A.15) at a fixed power).

Which of the three holds is read off the interior power: above
:math:`p_{max}` the device sits at :math:`p_{max}`, below :math:`p_{min}` at
:math:`p_{min}`. The round time :math:`t(\theta) = \theta + W/f(\mu(\theta))`
increases with :math:`\theta`; :func:`device_plan` solves
:math:`t(\theta) = \tau` by a bracketed Newton iteration, vectorised over all
devices (and options) at once. A device that meets :math:`\tau` even at
:math:`\mu = 0` (clock :math:`f_{min}`, power :math:`p_{min}`) has slack.
"""

from __future__ import annotations

import dataclasses

import numpy as np
from numpy.typing import NDArray

from ._math import LN2, H_inv, phi_inv, psi, psi_inv, psi_p, psi_pp

__all__ = ["DevicePlan", "Devices", "device_plan", "slack_plan"]

FloatArray = NDArray[np.float64]

#: Relative accuracy of the round-time equation t(theta) = tau.
TIME_RTOL = 1e-14
#: Newton iterations at most (bracketed; typically 3 to 8).
MAX_NEWTON = 200


@dataclasses.dataclass(frozen=True)
class Devices:
    """Per-device constants of the device Lagrangian, flat arrays of one shape.

    ``cycles`` is :math:`W = K_n\\sigma_k` per entry, so one :class:`Devices`
    can hold every (device, option) pair of a problem.
    """

    gain: FloatArray
    bits: FloatArray
    pmin: FloatArray
    pmax: FloatArray
    fmin: FloatArray
    fmax: FloatArray
    cycles: FloatArray
    w: float
    kappa: float
    noise_psd: float

    @property
    def a_min(self) -> FloatArray:
        """:math:`g p_{min}/N_0`."""
        return self.gain * self.pmin / self.noise_psd

    @property
    def a_max(self) -> FloatArray:
        """:math:`g p_{max}/N_0`."""
        return self.gain * self.pmax / self.noise_psd

    @property
    def theta_inf(self) -> FloatArray:
        """Upload time at ``p_max`` on infinite bandwidth, :math:`d N_0 \\ln 2/(g p_{max})`."""
        return self.bits * LN2 / self.a_max

    @property
    def t_min(self) -> FloatArray:
        """Infimum of the round time: infinite bandwidth, :math:`p_{max}`, :math:`f_{max}`."""
        return self.theta_inf + self.cycles / self.fmax

    def take(self, idx: NDArray[np.int64] | NDArray[np.bool_]) -> Devices:
        """The entries ``idx``."""
        return dataclasses.replace(
            self,
            **{
                k: getattr(self, k)[idx]
                for k in ("gain", "bits", "pmin", "pmax", "fmin", "fmax", "cycles")
            },
        )


@dataclasses.dataclass(frozen=True)
class DevicePlan:
    """The minimiser of the device Lagrangian per entry (see :func:`device_plan`)."""

    theta: FloatArray
    mu: FloatArray
    bandwidth: FloatArray
    power: FloatArray
    frequency: FloatArray
    energy: FloatArray
    value: FloatArray
    feasible: NDArray[np.bool_]
    slack: NDArray[np.bool_]
    dmu_dtau: FloatArray
    dmu_dlam: FloatArray
    db_dtau: FloatArray
    db_dlam: FloatArray
    #: Warm starts of the next call: the interior SNR and the SNR at a power bound.
    snr: FloatArray
    snr_bound: FloatArray


def _clock(dev: Devices, mu: FloatArray) -> tuple[FloatArray, FloatArray]:
    """(A.6)+(19): the clock at time price ``mu`` and ``d ln f / d mu`` (0 at a bound)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if dev.w > 0:
            raw = np.cbrt(np.maximum(mu, 0.0) / (2.0 * dev.w * dev.kappa))
        else:
            raw = np.full(mu.shape, np.inf)
        f = np.clip(raw, dev.fmin, dev.fmax)
        interior = (raw > dev.fmin) & (raw < dev.fmax)
        dlnf = np.where(interior, 1.0 / (3.0 * mu), 0.0)
    return f, dlnf


def _comm(
    dev: Devices, lam: float, theta: FloatArray, xs: FloatArray | None, vs: FloatArray | None
) -> tuple[FloatArray, ...]:
    """Bandwidth, power, ``mu`` and ``d mu / d theta`` at upload time ``theta``.

    Returns ``(b, p, mu, dmu, x, v, b_theta, b_lam, mu_lam)`` with ``x`` the
    interior SNR and ``v`` the SNR of the bound segment (warm starts for the
    next call) and the partial derivatives of ``b`` and ``mu`` at fixed ``theta``
    or ``lam``.
    """
    g, d = dev.gain, dev.bits
    shape = theta.shape
    b = np.empty(shape)
    p = np.empty(shape)
    mu = np.empty(shape)
    dmu = np.empty(shape)
    b_th = np.empty(shape)
    b_lam = np.zeros(shape)
    mu_lam = np.empty(shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if dev.w > 0:
            c = lam * g / (dev.w * dev.noise_psd * theta)
            x = phi_inv(c, xs)
            lx = np.log1p(x)
            b_in = d * LN2 / (theta * lx)
            p_in = dev.noise_psd * b_in * x / g
        else:  # energy is free: always the top power
            x = np.full(shape, np.inf)
            b_in = np.full(shape, np.nan)
            p_in = np.full(shape, np.inf)
        top = p_in >= dev.pmax
        low = (p_in <= dev.pmin) & ~top
        mid = ~top & ~low
        if mid.any():
            bb = b_in[mid]
            th = theta[mid]
            b[mid] = bb
            p[mid] = p_in[mid]
            m = lam * bb / th
            mu[mid] = m
            pq = psi_p(x[mid])
            dmu[mid] = -(m / th) * (2.0 - pq)
            b_th[mid] = -(bb / th) * (1.0 - pq)
            b_lam[mid] = -(bb / lam) * pq
            mu_lam[mid] = (bb / th) * (1.0 - pq)
        v = np.full(shape, np.nan) if vs is None else vs.copy()
        seg = top | low
        if seg.any():
            P = np.where(top, dev.pmax, dev.pmin)[seg]
            a = g[seg] * P / dev.noise_psd
            dd = d[seg]
            z = a * theta[seg] / (dd * LN2)
            vv = psi_inv(z, v[seg])
            v[seg] = vv
            bb = a / vv
            pp = psi_p(vv)
            b[seg] = bb
            p[seg] = P
            scale = lam * bb * bb / (dd * LN2 * pp)
            mu[seg] = scale - dev.w * P
            dv = a / (dd * LN2 * pp)
            dmu[seg] = -scale * dv * (2.0 / vv + psi_pp(vv) / pp)
            b_th[seg] = -(bb / vv) * dv
            mu_lam[seg] = scale / lam
    return b, p, mu, dmu, x, v, b_th, b_lam, mu_lam


def slack_plan(dev: Devices, lam: float) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray]:
    """The plan at ``mu = 0``: ``(theta0, b0, t0, db0/dlam)``: upload time, bandwidth, round time.

    At zero time price the device runs at :math:`f_{min}` and :math:`p_{min}`,
    and its bandwidth balances the upload energy against the price:
    :math:`H(v_0) = \\lambda a_{min}^2 / (d \\ln 2\\, w p_{min})`. Without an
    energy weight or with :math:`p_{min} = 0` there is no such plan
    (``inf``).
    """
    a = dev.a_min
    shape = a.shape
    if dev.w <= 0:
        inf = np.full(shape, np.inf)
        return inf, np.zeros(shape), inf, np.zeros(shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        c = lam * a * a / (dev.bits * LN2 * dev.w * dev.pmin)
        v0 = H_inv(np.where(dev.pmin > 0, c, np.inf))
        theta0 = np.where(dev.pmin > 0, dev.bits * LN2 * psi(v0) / a, np.inf)
        b0 = np.where(dev.pmin > 0, a / v0, 0.0)
        pp = psi_p(v0)
        dH = 2.0 * v0 * pp + v0 * v0 * psi_pp(v0)
        db0 = np.where(dev.pmin > 0, -(b0 / v0) * (v0 * v0 * pp) / (lam * dH), 0.0)
    return theta0, b0, theta0 + dev.cycles / dev.fmin, db0


def device_plan(
    dev: Devices,
    lam: float,
    tau: float,
    *,
    start: DevicePlan | None = None,
    slack: tuple[FloatArray, FloatArray, FloatArray, FloatArray] | None = None,
) -> DevicePlan:
    """Minimise every entry's device Lagrangian at price ``lam`` and round time ``tau``.

    Parameters
    ----------
    dev
        The entries (devices, or device-option pairs).
    lam
        Bandwidth price :math:`\\lambda > 0`.
    tau
        Round time (``inf``: no time limit, every entry at its slack plan).
    start
        A previous plan of the same entries to start Newton's method from.
    slack
        :func:`slack_plan` at ``lam`` when already computed.

    Returns
    -------
    DevicePlan
        Per entry: upload time, time price ``mu``, bandwidth, power, clock,
        energy term ``w (p theta + kappa W f^2)`` per round, the Lagrangian value
        ``energy + lam b``, feasibility (``tau`` above the entry's infimum
        round time), slack (``mu = 0``) and ``d mu / d tau``. Infeasible entries
        have value ``inf``.
    """
    shape = dev.gain.shape
    theta0, b0, t0, db0 = slack if slack is not None else slack_plan(dev, lam)
    feasible = tau > dev.t_min
    is_slack = feasible & (t0 <= tau)
    solve = feasible & ~is_slack
    theta = np.where(is_slack, theta0, np.nan)
    mu = np.zeros(shape)
    dmu_dtau = np.zeros(shape)
    dmu_dlam = np.zeros(shape)
    db_dtau = np.zeros(shape)
    db_dlam = np.where(is_slack, db0, 0.0)
    b = np.where(is_slack, b0, np.nan)
    p = np.where(is_slack, dev.pmin, np.nan)
    f = np.where(is_slack, dev.fmin, np.nan)
    snr = np.full(shape, np.nan)
    snr_bound = np.full(shape, np.nan)
    if solve.any():
        sub = dev.take(solve)
        lo = sub.theta_inf * (1.0 + 4e-16)
        hi = np.minimum(theta0[solve], tau - sub.cycles / sub.fmax)
        guess = np.sqrt(lo * hi)
        guess = np.where(np.isfinite(guess), guess, 2.0 * lo)
        if start is not None:
            th = start.theta[solve]
            bad = ~np.isfinite(th) | (th <= lo) | (th >= hi)
            th = np.where(bad, guess, th)
            xs = start.snr[solve].copy()
            vs = start.snr_bound[solve].copy()
        else:
            th = guess
            xs = np.full(th.shape, np.nan)
            vs = np.full(th.shape, np.nan)
        active = np.ones(th.shape, bool)
        out = {
            "b": np.empty(th.shape),
            "p": np.empty(th.shape),
            "mu": np.empty(th.shape),
            "f": np.empty(th.shape),
            "dmu": np.empty(th.shape),
            "b_th": np.empty(th.shape),
            "b_lam": np.empty(th.shape),
            "mu_lam": np.empty(th.shape),
            "slope": np.empty(th.shape),
        }
        dt_all = np.empty(th.shape)
        for _ in range(MAX_NEWTON):
            idx = np.flatnonzero(active)
            s2 = sub if idx.size == th.size else sub.take(idx)
            tt = th[idx]
            bb, pp, mm, dm, xs_i, vs_i, bth, blam, mlam = _comm(s2, lam, tt, xs[idx], vs[idx])
            xs[idx], vs[idx] = xs_i, vs_i
            ff, dlnf = _clock(s2, mm)
            slope = (s2.cycles / ff) * dlnf  # -d(compute time)/d mu
            t = tt + s2.cycles / ff
            with np.errstate(invalid="ignore", over="ignore"):
                dt = np.where(slope == 0, 1.0, 1.0 - slope * dm)
            r = t - tau
            out["b"][idx], out["p"][idx], out["mu"][idx] = bb, pp, mm
            out["f"][idx], out["dmu"][idx] = ff, dm
            out["b_th"][idx], out["b_lam"][idx], out["mu_lam"][idx] = bth, blam, mlam
            out["slope"][idx] = slope
            dt_all[idx] = dt
            done = np.abs(r) <= TIME_RTOL * tau
            above = r > 0
            hi[idx] = np.where(above, tt, hi[idx])
            lo[idx] = np.where(above, lo[idx], tt)
            with np.errstate(divide="ignore", invalid="ignore"):
                nxt = tt - r / dt
            # The root may sit exactly at hi = tau - W/f_max (the clock at its top,
            # where t is linear in theta): Newton lands there in one step.
            inside = np.isfinite(nxt) & (nxt > lo[idx]) & (nxt <= hi[idx])
            nxt = np.where(inside, nxt, 0.5 * (lo[idx] + hi[idx]))
            narrow = (hi[idx] - lo[idx]) <= 1e-15 * hi[idx]
            done = done | narrow
            th[idx] = np.where(done, tt, nxt)
            active[idx[done]] = False
            if not active.any():
                break
        theta[solve] = th
        snr[solve], snr_bound[solve] = xs, vs
        b[solve], p[solve], mu[solve], f[solve] = out["b"], out["p"], out["mu"], out["f"]
        with np.errstate(divide="ignore", invalid="ignore"):
            th_tau = 1.0 / dt_all
            th_lam = out["slope"] * out["mu_lam"] / dt_all  # -t_lam / t_theta
            dmu_dtau[solve] = out["dmu"] * th_tau
            dmu_dlam[solve] = out["mu_lam"] + out["dmu"] * th_lam
            db_dtau[solve] = out["b_th"] * th_tau
            db_dlam[solve] = out["b_lam"] + out["b_th"] * th_lam
    with np.errstate(invalid="ignore", over="ignore"):
        energy = dev.w * (p * theta + dev.kappa * dev.cycles * f * f)
        value = np.where(feasible, energy + lam * b, np.inf)
    return DevicePlan(
        theta=theta,
        mu=mu,
        bandwidth=b,
        power=p,
        frequency=f,
        energy=np.where(feasible, energy, np.inf),
        value=value,
        feasible=feasible,
        slack=is_slack,
        dmu_dtau=dmu_dtau,
        dmu_dlam=dmu_dlam,
        db_dtau=db_dtau,
        db_dlam=db_dlam,
        snr=snr,
        snr_bound=snr_bound,
    )


def devices_for(problem, options: NDArray[np.int64] | None = None) -> Devices:
    """:class:`Devices` of a problem: one entry per device at ``options`` (or every pair).

    With ``options`` (one option index per device) the entries are the
    devices; without, the entries are the ``N x K`` device-option pairs
    (row-major, device first).
    """
    n, k = problem.n_devices, problem.n_options
    cycles = problem.cycles_per_round[:, None] * problem.cycle_factors[None, :]
    cols = {
        "gain": problem.channel_gain,
        "bits": problem.bits,
        "pmin": problem.power_min,
        "pmax": problem.power_max,
        "fmin": problem.frequency_min,
        "fmax": problem.frequency_max,
    }
    w = problem.weights.energy * problem.rounds
    if options is not None:
        return Devices(
            **{key: np.asarray(v, float).copy() for key, v in cols.items()},
            cycles=cycles[np.arange(n), np.asarray(options)],
            w=w,
            kappa=problem.capacitance,
            noise_psd=problem.noise_psd,
        )
    return Devices(
        **{key: np.repeat(np.asarray(v, float), k) for key, v in cols.items()},
        cycles=cycles.reshape(-1),
        w=w,
        kappa=problem.capacitance,
        noise_psd=problem.noise_psd,
    )
