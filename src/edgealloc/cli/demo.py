"""``edgealloc demo``: every family's demo presets solved with every scheme, plotted."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from ._common import ForceOption, console, out_option


def demo(
    out: Annotated[Path, out_option("Directory to write the figures and numbers to.")] = Path(
        "edgealloc-demo"
    ),
    force: ForceOption = False,
) -> None:
    """Solve each family's demo presets with every scheme; tabulate and plot.

    Writes each family's figure (demo.png, offload.png), demo.json and each
    compiled <preset>.problem.json. Example: edgealloc demo -o my-demo.
    """
    from ..demo import run_demo

    con = console()
    doc = run_demo(out, console=con, force=force)
    files = doc["files"]
    for key, path in files.items():
        if key == "figure" or key.startswith("figure:"):
            con.print(f"figure:  {path}")
    con.print(f"numbers: {files['numbers']}")
    problems = [v for k, v in files.items() if k.startswith("problem:")]
    con.print("problems: " + ", ".join(problems))
    if problems:
        con.print(f"next: edgealloc solve {problems[-1]} --scheme all")
