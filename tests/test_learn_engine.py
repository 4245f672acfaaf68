"""The training engine: batched == sequential, the papers' update rules, and edge cases.

Oracles: the sequential reference loop (``batched=False``, nn.Module +
backward + manual SGD), closed-form gradient steps of linear regression
computed here in float64 NumPy, and identities of [MEL-async] eq. (3) and
[FEEL] eq. (1) (weights follow d_k / B_k; a one-step cycle is gradient
averaging).
"""

from __future__ import annotations

import numpy as np
import pytest

from edgealloc.errors import ValidationError

torch = pytest.importorskip("torch")

from edgealloc.learn.engine import (  # noqa: E402
    evaluate,
    gradient_averaging_step,
    init_params,
    local_sgd_cycle,
    parse_device,
    plan_chunks,
)
from edgealloc.learn.models import ModelSpec  # noqa: E402

pytestmark = pytest.mark.usefixtures("one_torch_thread")


TOL = 1e-5

SPECS = {
    "mlp": ModelSpec("mlp", (1, 8, 8), 10),  # the MEL network on digits-sized inputs
    "mlp-1d": ModelSpec("mlp", (40,), 10, hidden=(32, 16)),
    "cnn": ModelSpec("cnn", (1, 8, 8), 10, channels=(4, 8)),
    "cnn-1d": ModelSpec("cnn", (40,), 10, channels=(4, 8)),
    "linear": ModelSpec("linear", (5,), 1),  # linear regression
    "logistic": ModelSpec("linear", (6,), 3),
}


def _data(spec: ModelSpec, d, seed: int = 0):
    """Per-learner features and targets (classes from a random linear teacher, or y = Xb + e)."""
    rng = np.random.default_rng(seed)
    teacher = rng.normal(size=(spec.n_features, spec.n_outputs))
    xs, ys = [], []
    for n in d:
        x = rng.random((int(n), *spec.input_shape), dtype=np.float32)
        score = x.reshape(int(n), spec.n_features) @ teacher
        if spec.task == "classification":
            y = np.argmax(score + 0.1 * rng.normal(size=score.shape), axis=1)
        else:
            y = (score[:, 0] + 0.05 * rng.normal(size=int(n))).astype(np.float32)
        xs.append(x)
        ys.append(y)
    return xs, ys


def _rel_diff(a: dict, b: dict) -> float:
    """Largest absolute parameter difference relative to the parameter scale."""
    assert a.keys() == b.keys()
    diff = max(float((a[n] - b[n]).abs().max()) for n in a)
    scale = max(float(b[n].abs().max()) for n in b)
    return diff / max(scale, 1e-12)


CASES = {
    "sync": (np.array([12, 7, 20, 3, 15]), np.array([3, 3, 3, 3, 3])),
    # unequal tau_k and d_k, with a learner without data and one without steps
    "async": (np.array([12, 0, 20, 3, 15, 9, 1]), np.array([4, 2, 1, 5, 0, 2, 3])),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("name", list(SPECS))
def test_batched_equals_sequential(name: str, case: str) -> None:
    spec = SPECS[name]
    d, tau = CASES[case]
    xs, ys = _data(spec, d, seed=1)
    g = init_params(spec, seed=2)
    ref, ref_loss = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.2, batched=False)
    backends = ["vmap", "bmm"] if spec.kind in ("mlp", "linear") else ["vmap"]
    for backend in backends:
        new, loss = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.2, batched=True, backend=backend)
        assert _rel_diff(new, ref) <= TOL, backend
        np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, atol=1e-6)
    assert np.isnan(ref_loss[d == 0]).all() and np.isfinite(ref_loss[d > 0]).all()
    assert _rel_diff(ref, g) > 1e-4  # the cycle did move the model


@pytest.mark.parametrize("name", ["mlp", "cnn", "linear"])
def test_batched_equals_sequential_across_chunks(name: str) -> None:
    """Tiny memory budgets and no padding rule still give the same models."""
    spec = SPECS[name]
    d, tau = np.array([5, 30, 1, 17, 0, 8, 22]), np.array([2, 1, 3, 0, 1, 4, 2])
    xs, ys = _data(spec, d, seed=3)
    g = init_params(spec, seed=4)
    ref, _ = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.1, batched=False)
    for max_elements, pad_ratio in [(1, 0.0), (20_000, 0.0), (10**9, 1.0), (10**9, 0.0)]:
        new, _ = local_sgd_cycle(
            spec, g, xs, ys, tau, lr=0.1, max_elements=max_elements, pad_ratio=pad_ratio
        )
        assert _rel_diff(new, ref) <= TOL, (max_elements, pad_ratio)


@pytest.mark.parametrize("name", list(SPECS))
def test_gradient_averaging_batched_equals_sequential(name: str) -> None:
    spec = SPECS[name]
    b = np.array([9, 0, 25, 4, 13])
    xs, ys = _data(spec, b, seed=5)
    g = init_params(spec, seed=6)
    ref, ref_loss = gradient_averaging_step(spec, g, xs, ys, lr=0.3, batched=False)
    new, loss = gradient_averaging_step(spec, g, xs, ys, lr=0.3, batched=True)
    assert _rel_diff(new, ref) <= TOL
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-5, atol=1e-6)
    sliced, _ = gradient_averaging_step(spec, g, xs, ys, lr=0.3, max_elements=1)
    assert _rel_diff(sliced, ref) <= TOL
    assert np.isnan(loss[1]) and np.isfinite(np.delete(loss, 1)).all()


@pytest.mark.parametrize("batched", [True, False])
def test_linear_regression_step_is_the_closed_form_gradient_step(batched: bool) -> None:
    """One learner, one step: w - lr/d X^T r, b - lr/d sum r, r = Xw + b - y (float64 here)."""
    spec = SPECS["linear"]
    rng = np.random.default_rng(11)
    x = rng.normal(size=(6, 5)).astype(np.float32)
    y = rng.normal(size=6).astype(np.float32)
    w0 = np.array([[0.5, -1.0, 0.25, 2.0, 0.0]], dtype=np.float32)
    b0 = np.array([0.3], dtype=np.float32)
    g = {"1.weight": torch.from_numpy(w0), "1.bias": torch.from_numpy(b0)}
    lr = 0.05
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    r = x64 @ w0[0].astype(np.float64) + float(b0[0]) - y64
    w1 = w0[0] - lr / 6 * (x64.T @ r)
    b1 = b0[0] - lr / 6 * r.sum()
    new, loss = local_sgd_cycle(spec, g, [x], [y], np.array([1]), lr=lr, batched=batched)
    np.testing.assert_allclose(new["1.weight"].numpy()[0], w1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new["1.bias"].numpy(), [b1], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, [0.5 * np.mean(r**2)], rtol=1e-5)
    # gradient averaging with one learner is the same step
    ga, _ = gradient_averaging_step(spec, g, [x], [y], lr=lr, batched=batched)
    np.testing.assert_allclose(ga["1.weight"].numpy()[0], w1, rtol=1e-5, atol=1e-6)
    # two steps: apply the closed form twice
    r1 = x64 @ w1 + b1 - y64
    w2 = w1 - lr / 6 * (x64.T @ r1)
    two, _ = local_sgd_cycle(spec, g, [x], [y], np.array([2]), lr=lr, batched=batched)
    np.testing.assert_allclose(two["1.weight"].numpy()[0], w2, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("batched", [True, False])
def test_aggregation_is_weighted_by_samples(batched: bool) -> None:
    """[MEL-async] eq. (3): w = sum_k d_k w_k / sum_k d_k, each w_k from its own run."""
    spec = SPECS["mlp-1d"]
    d, tau = np.array([4, 19, 9]), np.array([2, 1, 3])
    xs, ys = _data(spec, d, seed=7)
    g = init_params(spec, seed=8)
    new, _ = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.5, batched=batched)
    alone = [
        local_sgd_cycle(spec, g, [xs[k]], [ys[k]], tau[k : k + 1], lr=0.5, batched=batched)[0]
        for k in range(3)
    ]
    expected = {n: sum(float(d[k]) * alone[k][n] for k in range(3)) / d.sum() for n in g}
    assert _rel_diff(new, expected) <= TOL
    # giving a learner its data twice leaves its local model unchanged (mean loss) and
    # doubles its weight
    xs2, ys2 = [np.concatenate([xs[0]] * 2), *xs[1:]], [np.concatenate([ys[0]] * 2), *ys[1:]]
    doubled, _ = local_sgd_cycle(spec, g, xs2, ys2, tau, lr=0.5, batched=batched)
    d2 = d.copy()
    d2[0] *= 2
    expected2 = {n: sum(float(d2[k]) * alone[k][n] for k in range(3)) / d2.sum() for n in g}
    assert _rel_diff(doubled, expected2) <= TOL
    assert _rel_diff(doubled, new) > 1e-4


@pytest.mark.parametrize("batched", [True, False])
def test_idle_learners_are_left_out_and_nothing_is_modified(batched: bool) -> None:
    spec = SPECS["mlp-1d"]
    d, tau = np.array([10, 0, 7, 12]), np.array([2, 3, 1, 0])
    xs, ys = _data(spec, d, seed=9)
    g = init_params(spec, seed=10)
    before = {n: p.clone() for n, p in g.items()}
    new, loss = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.1, batched=batched)
    only, _ = local_sgd_cycle(
        spec, g, [xs[0], xs[2]], [ys[0], ys[2]], tau[[0, 2]], lr=0.1, batched=batched
    )
    assert _rel_diff(new, only) <= TOL
    assert all(torch.equal(g[n], before[n]) for n in g)  # the input is not modified
    # the start loss is reported for every learner with data, tau_k = 0 included
    for k in (0, 2, 3):
        assert loss[k] == pytest.approx(evaluate(spec, g, xs[k], ys[k])[0], rel=1e-5)
    assert np.isnan(loss[1])
    # nobody takes part: the global model comes back unchanged (a copy)
    same, loss0 = local_sgd_cycle(spec, g, xs, ys, np.zeros(4, dtype=int), lr=0.1, batched=batched)
    assert all(torch.equal(same[n], g[n]) and same[n] is not g[n] for n in g)
    assert np.isfinite(loss0[[0, 2, 3]]).all()
    empty = [x[:0] for x in xs], [y[:0] for y in ys]
    same2, loss2 = local_sgd_cycle(spec, g, *empty, tau, lr=0.1, batched=batched)
    assert all(torch.equal(same2[n], g[n]) for n in g) and np.isnan(loss2).all()
    same3, _ = gradient_averaging_step(spec, g, *empty, lr=0.1, batched=batched)
    assert all(torch.equal(same3[n], g[n]) for n in g)


@pytest.mark.parametrize("name", ["mlp", "cnn-1d"])
def test_result_does_not_depend_on_learner_order(name: str) -> None:
    spec = SPECS[name]
    d, tau = np.array([8, 3, 0, 14, 6, 11]), np.array([1, 4, 2, 2, 0, 3])
    xs, ys = _data(spec, d, seed=12)
    g = init_params(spec, seed=13)
    new, loss = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.2)
    perm = np.array([3, 5, 0, 2, 4, 1])
    shuffled, loss_p = local_sgd_cycle(
        spec, g, [xs[i] for i in perm], [ys[i] for i in perm], tau[perm], lr=0.2
    )
    assert _rel_diff(shuffled, new) <= TOL
    np.testing.assert_allclose(loss_p, loss[perm], rtol=1e-6)


def test_one_step_cycle_is_gradient_averaging() -> None:
    """With tau_k = 1, eq. (3) of [MEL-async] is eq. (1)-(2) of [FEEL] (weights d_k = B_k)."""
    spec = SPECS["cnn"]
    b = np.array([5, 12, 2, 9])
    xs, ys = _data(spec, b, seed=14)
    g = init_params(spec, seed=15)
    ga, ga_loss = gradient_averaging_step(spec, g, xs, ys, lr=0.4)
    cyc, cyc_loss = local_sgd_cycle(spec, g, xs, ys, np.ones(4, dtype=int), lr=0.4)
    assert _rel_diff(ga, cyc) <= TOL
    np.testing.assert_allclose(ga_loss, cyc_loss, rtol=1e-5)
    # and one learner holding everyone's batch takes the same step
    pooled, _ = local_sgd_cycle(
        spec, g, [np.concatenate(xs)], [np.concatenate(ys)], np.array([1]), lr=0.4
    )
    assert _rel_diff(ga, pooled) <= TOL


def test_runs_are_deterministic() -> None:
    spec = SPECS["cnn-1d"]
    d, tau = np.array([6, 13, 2]), np.array([2, 1, 3])
    xs, ys = _data(spec, d, seed=16)
    g = init_params(spec, seed=17)
    a, _ = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.1)
    b, _ = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.1)
    assert all(torch.equal(a[n], b[n]) for n in a)
    h = init_params(spec, seed=17)
    assert all(torch.equal(g[n], h[n]) for n in g)


@pytest.mark.parametrize("mode", ["sync", "async", "gradient"])
def test_training_reduces_the_loss(mode: str) -> None:
    spec = ModelSpec("mlp", (10,), 3, hidden=(16,))
    k = 4
    xs, ys = _data(spec, [30, 50, 20, 40, 300], seed=18)  # one teacher; the last is the test set
    x_test, y_test = xs.pop(), ys.pop()
    params = init_params(spec, seed=20)
    loss0, acc0 = evaluate(spec, params, x_test, y_test)
    tau = np.full(k, 3) if mode == "sync" else np.array([1, 4, 2, 3])
    for _ in range(15):
        if mode == "gradient":
            params, _ = gradient_averaging_step(spec, params, xs, ys, lr=0.5)
        else:
            params, _ = local_sgd_cycle(spec, params, xs, ys, tau, lr=0.5)
    loss1, acc1 = evaluate(spec, params, x_test, y_test)
    assert loss1 < 0.9 * loss0
    assert acc1 > max(acc0, 1 / 3)


def test_linear_regression_converges_to_least_squares() -> None:
    spec = SPECS["linear"]
    rng = np.random.default_rng(21)
    beta = np.array([1.0, -2.0, 0.5, 0.0, 3.0])
    xs = [rng.normal(size=(n, 5)).astype(np.float32) for n in (40, 60, 25)]
    ys = [(x @ beta + 0.7).astype(np.float32) for x in xs]
    params = init_params(spec, seed=22)
    for _ in range(60):
        params, _ = local_sgd_cycle(spec, params, xs, ys, np.array([3, 1, 2]), lr=0.2)
    np.testing.assert_allclose(params["1.weight"].numpy()[0], beta, atol=1e-3)
    np.testing.assert_allclose(params["1.bias"].numpy(), [0.7], atol=1e-3)
    loss, acc = evaluate(spec, params, xs[0], ys[0])
    assert loss < 1e-6 and np.isnan(acc)


def test_evaluate_by_hand() -> None:
    spec = ModelSpec("linear", (2,), 2)
    params = {"1.weight": torch.tensor([[1.0, 0.0], [0.0, 1.0]]), "1.bias": torch.zeros(2)}
    x = np.array([[2.0, 0.0], [0.0, 1.0], [1.0, 3.0], [0.5, 0.0]], dtype=np.float32)
    y = np.array([0, 1, 0, 0])
    loss, acc = evaluate(spec, params, x, y, max_elements=3)
    logits = x.astype(np.float64)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert loss == pytest.approx(-logp[np.arange(4), y].mean(), rel=1e-6)
    assert acc == pytest.approx(3 / 4)  # sample 2 predicts class 1


def test_plan_chunks_covers_every_learner_once_within_the_rules() -> None:
    spec = SPECS["mlp-1d"]
    d = np.array([100, 0, 80, 74, 50, 38, 37, 1, 100])
    for max_elements, pad_ratio in [(10**9, 0.75), (10**9, 0.5), (10**9, 0.0), (300_000, 0.0)]:
        chunks = plan_chunks(spec, d, max_elements=max_elements, pad_ratio=pad_ratio)
        members = np.sort(np.concatenate(chunks))
        np.testing.assert_array_equal(members, np.flatnonzero(d > 0))
        per = spec.n_features + 3 * spec.activation_elements
        for c in chunks:
            assert np.all(np.diff(d[c]) <= 0)
            assert d[c].min() >= pad_ratio * d[c].max()
            if len(c) > 1:
                assert len(c) * (d[c].max() * per + 4 * spec.n_params) <= max_elements
    assert len(plan_chunks(spec, d, pad_ratio=0.0)) == 1
    assert list(plan_chunks(spec, d, pad_ratio=0.75)[0]) == [0, 8, 2]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tau": np.array([1, 2])}, "tau"),
        ({"tau": np.array([1, -1, 2])}, "tau"),
        ({"tau": np.array([1.5, 1, 2])}, "tau"),
        ({"lr": 0.0}, "lr"),
        ({"lr": float("nan")}, "lr"),
        ({"ys": "labels"}, "ys"),
        ({"backend": "jit"}, "backend"),
        ({"max_elements": 0}, "max_elements"),
        ({"pad_ratio": 2.0}, "pad_ratio"),
    ],
)
def test_bad_cycle_arguments_are_validation_errors(change: dict, field: str) -> None:
    spec = SPECS["mlp-1d"]
    xs, ys = _data(spec, [3, 4, 5])
    args = {"xs": xs, "ys": ys, "tau": np.array([1, 1, 1]), "lr": 0.1} | change
    with pytest.raises(ValidationError) as info:
        local_sgd_cycle(
            spec, init_params(spec, 0), args.pop("xs"), args.pop("ys"), args.pop("tau"), **args
        )
    assert info.value.field.startswith(field)


def test_bad_data_and_params_are_validation_errors() -> None:
    spec = SPECS["mlp-1d"]
    g = init_params(spec, 0)
    xs, ys = _data(spec, [3, 4])
    one = np.array([1, 1])
    with pytest.raises(ValidationError, match=r"xs\[1\]"):
        local_sgd_cycle(spec, g, [xs[0], np.zeros((4, 39))], ys, one, lr=0.1)
    with pytest.raises(ValidationError, match=r"ys\[0\]"):
        local_sgd_cycle(spec, g, xs, [ys[0] + 10, ys[1]], one, lr=0.1)
    with pytest.raises(ValidationError, match=r"ys\[1\]"):
        local_sgd_cycle(spec, g, xs, [ys[0], ys[1][:2]], one, lr=0.1)
    with pytest.raises(ValidationError, match="ys"):
        local_sgd_cycle(spec, g, xs, ys[:1], one, lr=0.1)
    with pytest.raises(ValidationError, match="params"):
        local_sgd_cycle(spec, {"w": torch.zeros(2)}, xs, ys, one, lr=0.1)
    bad = dict(g)
    bad["1.weight"] = torch.zeros(3, 3)
    with pytest.raises(ValidationError, match="params"):
        gradient_averaging_step(spec, bad, xs, ys, lr=0.1)
    with pytest.raises(ValidationError, match="backend"):
        local_sgd_cycle(
            SPECS["cnn"],
            init_params(SPECS["cnn"], 0),
            *_data(SPECS["cnn"], [2]),
            np.array([1]),
            lr=0.1,
            backend="bmm",
        )
    with pytest.raises(ValidationError, match="x"):
        evaluate(spec, g, xs[0][:0], ys[0][:0])
    with pytest.raises(ValidationError, match="spec"):
        evaluate("mlp", g, xs[0], ys[0])  # type: ignore[arg-type]
    # flattened samples of the right size are accepted
    flat, _ = local_sgd_cycle(
        SPECS["mlp"],
        init_params(SPECS["mlp"], 0),
        [np.zeros((2, 64), dtype=np.float32)],
        [np.array([1, 2])],
        np.array([1]),
        lr=0.1,
    )
    assert set(flat) == set(init_params(SPECS["mlp"], 0))


# ---------------------------------------------------------------------------
# Devices: the engine computes where the parameters live
# ---------------------------------------------------------------------------
def _accelerators() -> list:
    """Every accelerator this machine has; a skipped case where it has none."""
    cuda = torch.cuda.is_available()
    mps = torch.backends.mps.is_available()
    return [
        pytest.param("cuda", marks=pytest.mark.skipif(not cuda, reason="no CUDA GPU here")),
        pytest.param("mps", marks=pytest.mark.skipif(not mps, reason="no MPS device here")),
    ]


def test_parse_device() -> None:
    assert parse_device(None) == torch.device("cpu")
    assert parse_device("cpu") == parse_device(torch.device("cpu")) == torch.device("cpu")
    for bad in ["gpu0", "meta", 3, "cuda:x"]:
        with pytest.raises(ValidationError) as info:
            parse_device(bad)
        assert info.value.field == "device"
    if torch.cuda.is_available():
        assert parse_device("cuda").type == "cuda"
        with pytest.raises(ValidationError, match="not available"):
            parse_device(f"cuda:{torch.cuda.device_count()}")
    else:
        with pytest.raises(ValidationError, match="not available"):
            parse_device("cuda")


@pytest.mark.parametrize("device", ["cpu", *_accelerators()])
@pytest.mark.parametrize("name", ["mlp", "cnn-1d", "logistic"])
def test_engine_follows_the_parameters_device(name: str, device: str) -> None:
    """Batched and sequential agree on the device, stay there, and match the CPU's models."""
    spec = SPECS[name]
    d, tau = CASES["async"]
    xs, ys = _data(spec, d, seed=11)
    g_cpu = init_params(spec, seed=12)
    g = init_params(spec, seed=12, device=device)
    assert all(v.device.type == device for v in g.values())
    assert _rel_diff({n: v.cpu() for n, v in g.items()}, g_cpu) == 0.0
    cpu_ref, cpu_loss = local_sgd_cycle(spec, g_cpu, xs, ys, tau, lr=0.2, batched=False)
    for batched in (True, False):
        new, loss = local_sgd_cycle(spec, g, xs, ys, tau, lr=0.2, batched=batched)
        assert all(v.device.type == device for v in new.values())
        assert _rel_diff({n: v.cpu() for n, v in new.items()}, cpu_ref) <= TOL
        np.testing.assert_allclose(loss, cpu_loss, rtol=1e-5, atol=1e-6)
        avg, _ = gradient_averaging_step(spec, g, xs, ys, lr=0.2, batched=batched)
        assert all(v.device.type == device for v in avg.values())
    ref_eval = evaluate(spec, g_cpu, xs[0], ys[0])
    np.testing.assert_allclose(evaluate(spec, g, xs[0], ys[0]), ref_eval, rtol=1e-5)


def test_parameters_on_two_devices_are_refused() -> None:
    spec = SPECS["logistic"]
    g = init_params(spec, 0)
    g["1.bias"] = torch.zeros_like(g["1.bias"], device="meta")
    xs, ys = _data(spec, [3])
    with pytest.raises(ValidationError, match="one device"):
        local_sgd_cycle(spec, g, xs, ys, np.array([1]), lr=0.1)


@pytest.mark.parametrize("name", ["mlp", "cnn-1d"])
def test_on_step_counts_every_sample_step(name: str) -> None:
    """The progress callback's counts add up to sum tau_k d_k, whatever the engine and chunks."""
    spec = SPECS[name]
    d, tau = CASES["async"]
    xs, ys = _data(spec, d, seed=13)
    g = init_params(spec, seed=14)
    expected = int((d * tau).sum())
    runs = [dict(batched=False), dict(), dict(max_elements=1, pad_ratio=0.0)]
    if spec.kind == "mlp":
        runs.append(dict(backend="vmap"))
    for kwargs in runs:
        counts: list[int] = []
        local_sgd_cycle(spec, g, xs, ys, tau, lr=0.1, on_step=counts.append, **kwargs)
        assert sum(counts) == expected, kwargs
        assert all(c > 0 for c in counts)
    with pytest.raises(ValidationError, match="on_step"):
        local_sgd_cycle(spec, g, xs, ys, tau, lr=0.1, on_step=3)  # type: ignore[arg-type]
