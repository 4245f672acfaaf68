"""A ready Flower app: ``server_app`` and ``client_app``, their settings from the run config.

Point a Flower app's components at these (``docs/flower.md``)::

    [tool.flwr.app.components]
    serverapp = "edgealloc.integrations.flower.app:server_app"
    clientapp = "edgealloc.integrations.flower.app:client_app"

    [tool.flwr.app.config]
    edgealloc-settings = "<FlowerSettings.to_json()>"
    edgealloc-run-dir = "/path/for/history"

Each SuperNode is started with ``--node-config "partition-id=K
num-partitions=N"`` and, on real devices, its own readings (``cpu-hz=...
rate-bps=... tx-power-w=... energy-budget-j=...``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["client_app", "server_app"]  # noqa: F822 - built on first use by __getattr__


def __getattr__(name: str) -> Any:
    # Built on first use: a SuperNode's ClientApp process never imports the server side.
    if name == "server_app":
        from .server import make_server_app

        app = make_server_app()  # settings from edgealloc-settings, history into edgealloc-run-dir
    elif name == "client_app":
        from .client import make_client_app

        app = make_client_app()  # settings from edgealloc-settings
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = app
    return app
