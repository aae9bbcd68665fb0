"""`fmops notify`: the status record, the webhook post, and an unreachable webhook as a warning only."""

import http.server
import json
import socket
import threading

from fmops.steps.notify import notify

from tests.helpers import cli


def webhook() -> tuple[str, list[dict], http.server.HTTPServer]:
    """A one-request webhook on loopback: its URL, the bodies it received, the server (to close)."""
    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.handle_request, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}/hook", received, server


def test_notify_records_and_posts(tmp_path, monkeypatch):
    url, received, server = webhook()
    monkeypatch.setenv("FMOPS_WEBHOOK_URL", url)
    result = cli(
        "notify",
        "--workflow",
        "wf-1",
        "--status",
        "Failed",
        "--failures",
        '[{"name": "train"}]',
        "--record",
        str(tmp_path / "status.json"),
    )
    server.server_close()
    assert result.returncode == 0
    record = json.loads((tmp_path / "status.json").read_text())
    assert (record["workflow"], record["status"], record["failures"]) == ("wf-1", "Failed", '[{"name": "train"}]')
    assert received and received[0]["text"] == "fmops workflow wf-1: Failed"
    assert received[0]["finished_at"] == record["finished_at"]
    assert result.stdout.splitlines()[:2] == [f"status recorded at {tmp_path / 'status.json'}", "webhook notified"]
    assert json.loads(result.stdout.splitlines()[-1]) == record


def test_no_failures_and_no_webhook(tmp_path):
    done = notify(workflow="wf-2", status="Succeeded", failures="null")
    assert "failures" not in done.record and done.webhook == ""
    assert notify(workflow="wf-2", status="Succeeded", failures="[]").record.keys() == done.record.keys()


def test_an_unreachable_webhook_is_a_warning_not_a_failure(tmp_path, monkeypatch):
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("FMOPS_WEBHOOK_URL", f"http://127.0.0.1:{port}/hook")  # nothing listens there
    result = cli("notify", "--workflow", "wf-3", "--status", "Error", "--record", str(tmp_path / "s.json"))
    assert result.returncode == 0
    assert result.stderr.startswith("warning: webhook not reached: ")
    assert json.loads((tmp_path / "s.json").read_text())["status"] == "Error"


def test_a_summary_left_by_a_step_joins_the_record_and_the_message(tmp_path, monkeypatch):
    (tmp_path / "summary").write_text("blocked: forgetting 0.91 > 0.30\nmore detail\n")
    url, received, server = webhook()
    monkeypatch.setenv("FMOPS_WEBHOOK_URL", url)
    cli("notify", "--workflow", "wf-4", "--status", "Succeeded", "--summary", str(tmp_path / "summary"))
    server.server_close()
    assert received[0]["text"] == "fmops workflow wf-4: Succeeded (blocked: forgetting 0.91 > 0.30)"
    assert received[0]["summary"] == "blocked: forgetting 0.91 > 0.30"
    assert "summary" not in notify(workflow="wf-4", status="Succeeded", summary=str(tmp_path / "absent")).record
