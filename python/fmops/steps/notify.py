"""Record how a workflow ended and, when a webhook URL is given, post it there (Slack-compatible JSON)."""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass

from fmops.core import manifest, storage


@dataclass(frozen=True)
class Notified:
    """What `notify` did: the record it wrote, and the webhook's outcome ("" when there is no webhook)."""

    record: dict[str, str]
    webhook: str


def post(url: str, record: dict[str, str]) -> None:
    text = f"fmops workflow {record['workflow']}: {record['status']}"
    if record.get("summary"):
        text += f" ({record['summary']})"
    body = json.dumps({"text": text, **record}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def notify(
    *, workflow: str, status: str, failures: str = "", record: str = "", webhook_url: str = "", summary: str = ""
) -> Notified:
    """Write the status record to `record` (a URI, if given) and post it to `webhook_url` (if given).

    `summary` is the URI of a one-line text a step left to explain the outcome (the gate's decision); its
    first line joins the record and the message when the file exists (the step may not have run).
    `failures` is Argo's JSON list of failed nodes ("null" or "[]" when none). An unreachable webhook is
    reported in the result, not raised: a notification must not turn a finished run into a failed one.
    """
    data = {"workflow": workflow, "status": status, "finished_at": manifest.now()}
    if failures and failures not in ("null", "[]"):
        data["failures"] = failures
    if summary and storage.exists(summary):
        data["summary"] = storage.read_text(summary).strip().splitlines()[0]
    if record:
        storage.write_json(record, data)
    outcome = ""
    if webhook_url:
        try:
            post(webhook_url, data)
            outcome = "notified"
        except OSError as error:
            outcome = f"not reached: {error}"
    return Notified(record=data, webhook=outcome)
