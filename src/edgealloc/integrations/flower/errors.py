"""Errors of a Flower run, carried across processes through the history."""

from __future__ import annotations

from typing import Any, NoReturn

from ...errors import EdgeallocError, InfeasibleError, ValidationError

__all__ = ["FlowerRunError", "raise_history_error"]


class FlowerRunError(EdgeallocError):
    """The federation stopped for a reason that is not the user's input (a crash, a lost node)."""


def raise_history_error(history: Any, what: str) -> NoReturn:
    """Raise the error a run's history ends with (or say that it ended without finishing)."""
    error = history.error
    if error is None:
        raise FlowerRunError(f"{what} ended before the last round (no error was recorded)")
    kind = error.get("kind")
    message = str(error.get("message", ""))
    if kind == "validation":
        field = str(error.get("field") or "")
        prefix = f"{field}: "
        raise ValidationError(
            field, message[len(prefix) :] if message.startswith(prefix) else message
        )
    if kind == "infeasible":
        raise InfeasibleError(message, min_deadline=error.get("min_deadline"))
    raise FlowerRunError(f"{what} failed: {message}")
