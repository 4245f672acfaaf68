"""The README's two set-up commands are the ones CI runs, and its links resolve."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_exactly_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    command = ci[-1]
    assert "pytest" in command and "torch==2.13.0" in command
    assert command in _bash_blocks(README), "the README's test line and .ci/run differ"


def test_readme_install_command_runs_the_demo() -> None:
    blocks = _bash_blocks(README)
    assert any(b.startswith("python3 -m venv") and b.endswith("edgealloc demo") for b in blocks)


def test_readme_and_docs_links_resolve() -> None:
    for doc in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for target in re.findall(r"\]\(([^)#\s]+)\)", doc.read_text()):
            if "://" in target:
                continue
            assert (doc.parent / target).exists(), f"{doc.name}: broken link {target}"
