"""A leaf template's retryStrategy: how many attempts, how long between them, and which failures retry."""

from __future__ import annotations

from typing import Any

from fmops.argo.local import expressions
from fmops.argo.local.pods import Outcome
from fmops.argo.local.support import duration_seconds
from fmops.core.errors import InputError

UNBOUNDED = 1 << 30  # Argo retries without bound when no limit is set


def retry_limit(retry: dict[str, Any], variables: dict[str, Any]) -> int:
    if not retry:
        return 0
    if "limit" not in retry:
        return UNBOUNDED
    text = expressions.substitute(str(retry["limit"]), variables).strip()
    if not text.lstrip("-").isdigit() or len(text) > 10:
        raise InputError(f"retryStrategy.limit: {text[:40]!r} is not a whole number")
    return int(text)


def backoff_seconds(backoff: dict[str, Any], attempt: int, variables: dict[str, Any]) -> float:
    if not backoff.get("duration"):
        return 0.0
    seconds = duration_seconds(expressions.substitute(str(backoff["duration"]), variables))
    factor_text = expressions.substitute(str(backoff.get("factor", 1)), variables)
    try:
        factor = float(factor_text)
        pause = seconds * factor ** (attempt - 1)
    except (ValueError, OverflowError):
        raise InputError(f"retryStrategy.backoff.factor: {factor_text[:40]!r} is not a usable number") from None
    if backoff.get("cap"):
        pause = min(pause, duration_seconds(str(backoff["cap"])))
    return pause


def retryable(retry: dict[str, Any], outcome: Outcome, seconds: float = 0.0) -> bool:
    policy = retry.get("retryPolicy", "OnFailure")
    if policy == "OnFailure" and outcome.phase != "Failed" or policy == "OnError" and outcome.phase != "Error":
        return False
    if policy == "OnTransientError" and outcome.phase != "Error":
        return False
    if "expression" in retry:
        return expressions.retry_allowed(retry["expression"], outcome.phase, outcome.exit_code, seconds)
    return True


def last_retry(outcome: Outcome, exit_code: str | None, seconds: float) -> dict[str, str]:
    """The `lastRetry.*` variables the next attempt sees."""
    return {
        "lastRetry.status": outcome.phase,
        "lastRetry.exitCode": exit_code or "-1",
        "lastRetry.duration": str(int(seconds)),
        "lastRetry.message": outcome.message,
    }
