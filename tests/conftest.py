"""Test configuration: deterministic Hypothesis everywhere, headless matplotlib."""

import os

import matplotlib
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
