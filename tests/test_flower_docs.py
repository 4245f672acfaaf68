"""``docs/flower.md`` tells the truth: its example app runs and it lists every wire key."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from edgealloc.integrations.flower.keys import (
    CONFIG_FIELDS,
    FEEL_PROFILE_FIELDS,
    PROFILE_FIELDS,
    REPORT_FIELDS,
)

DOC = Path(__file__).resolve().parents[1] / "docs" / "flower.md"


def _block(marker: str) -> str:
    text = DOC.read_text()
    for block in re.findall(r"```(?:python|toml)\n(.*?)```", text, flags=re.S):
        if block.startswith(marker):
            return block
    raise AssertionError(f"no code block starting with {marker!r} in {DOC}")


def test_every_profile_config_and_report_key_is_documented() -> None:
    text = DOC.read_text()
    for table in (PROFILE_FIELDS, FEEL_PROFILE_FIELDS, CONFIG_FIELDS, REPORT_FIELDS):
        missing = [key for key in table if f"`{key}`" not in text]
        assert not missing, f"docs/flower.md does not document {missing}"


def test_the_example_app_builds_and_its_client_answers_the_profile_query(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("flwr")
    from flwr.app import Context, Message, MessageType, RecordDict
    from flwr.clientapp import ClientApp
    from flwr.serverapp import ServerApp
    from flwr.supercore.task_identity import TaskIdentity

    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(compile(_block("# my_app/apps.py"), "apps.py", "exec"), namespace)
    assert isinstance(namespace["server_app"], ServerApp)
    assert isinstance(namespace["client_app"], ClientApp)
    toml = _block("# my_app/pyproject.toml")
    assert 'serverapp = "apps:server_app"' in toml and 'clientapp = "apps:client_app"' in toml
    before = (TaskIdentity._run_id, TaskIdentity._task_id, TaskIdentity._node_id)
    TaskIdentity.run_id, TaskIdentity.task_id, TaskIdentity.node_id = 1, 1, 0
    try:
        query = Message(RecordDict(), dst_node_id=7, message_type=MessageType.QUERY)
        context = Context(
            run_id=1,
            node_id=7,
            node_config={"partition-id": 1, "num-partitions": 3, "cpu-hz": 1.5e9},
            state=RecordDict(),
            run_config={},
        )
        reply = namespace["client_app"](query, context)
    finally:
        TaskIdentity._run_id, TaskIdentity._task_id, TaskIdentity._node_id = before
    profile = dict(reply.content["profile"])
    assert profile["partition-id"] == 1 and profile["cpu-hz"] == 1.5e9
    assert profile["num-examples"] > 0 and profile["rate-bps"] > 0
