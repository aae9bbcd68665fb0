"""Record how a workflow ended and, when a webhook URL is configured, post it there.

    fmops notify --workflow wf-abc --status Failed --record s3://bucket/fmops/runs/wf-abc/status.json
    fmops notify --workflow wf-abc --status Succeeded --summary s3://bucket/fmops/runs/wf-abc/gate/summary

The pipeline's onExit handler runs this. The webhook URL comes from the environment variable
FMOPS_WEBHOOK_URL (on the cluster: Secret `fmops-notify`, key `webhook-url`); the body is Slack-compatible
JSON ({"text": ...}) plus the fields of the record. An unreachable webhook is a warning, not a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from fmops.steps.notify import notify


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workflow", required=True, help="the workflow's name")
    parser.add_argument("--status", required=True, help="Succeeded, Failed or Error")
    parser.add_argument("--failures", default="", help="Argo's JSON list of failed nodes, if any")
    parser.add_argument("--record", default="", help="URI to write the status record to")
    parser.add_argument("--summary", default="", help="URI of a one-line outcome a step wrote (used if it exists)")


def run(args: argparse.Namespace) -> int:
    done = notify(workflow=args.workflow, status=args.status, failures=args.failures, record=args.record,
                  webhook_url=os.environ.get("FMOPS_WEBHOOK_URL", ""), summary=args.summary)  # fmt: skip
    if args.record:
        print(f"status recorded at {args.record}")
    if done.webhook == "notified":
        print("webhook notified")
    elif done.webhook:
        print(f"warning: webhook {done.webhook}", file=sys.stderr)
    print(json.dumps(done.record))
    return 0
