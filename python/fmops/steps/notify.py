"""Record how a workflow ended and, when a webhook URL is configured, post it there.

    fmops notify --workflow wf-abc --status Failed --record s3://bucket/fmops/runs/wf-abc/status.json

The pipeline's onExit handler runs this. The webhook URL comes from the environment variable
FMOPS_WEBHOOK_URL (on the cluster: Secret `fmops-notify`, key `webhook-url`); the body is Slack-compatible
JSON ({"text": ...}) plus the fields of the record.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.request

from fmops.core import manifest, storage


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workflow", required=True, help="the workflow's name")
    parser.add_argument("--status", required=True, help="Succeeded, Failed or Error")
    parser.add_argument("--failures", default="", help="Argo's JSON list of failed nodes, if any")
    parser.add_argument("--record", default="", help="URI to write the status record to")


def post(url: str, record: dict) -> None:
    body = json.dumps({"text": f"fmops workflow {record['workflow']}: {record['status']}", **record}).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


def run(args: argparse.Namespace) -> int:
    record = {"workflow": args.workflow, "status": args.status, "finished_at": manifest.now()}
    if args.failures and args.failures not in ("null", "[]"):
        record["failures"] = args.failures
    if args.record:
        storage.write_json(args.record, record)
        print(f"status recorded at {args.record}")
    url = os.environ.get("FMOPS_WEBHOOK_URL", "")
    if url:
        try:
            post(url, record)
            print("webhook notified")
        except OSError as error:  # a notification must not turn a finished run into a failed one
            print(f"warning: webhook not reached: {error}", file=sys.stderr)
    print(json.dumps(record))
    return 0
