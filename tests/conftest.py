"""Test configuration: deterministic Hypothesis everywhere, headless matplotlib."""

import os

import matplotlib
import pytest
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

# Derandomised: the same examples on every run, so CI cannot flake.
settings.register_profile(
    "edgealloc",
    derandomize=True,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile("edgealloc")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="module")
def one_torch_thread():
    """One PyTorch intra-op thread for a test module (restored afterwards).

    On small shared machines a second thread slows small matrix products many
    times over. Used by the learning tests through
    ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``.
    """
    torch = pytest.importorskip("torch")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
