"""Storage, config, manifests, collect, notify, launch and the CLI's error contract."""

import http.server
import json
import threading
from pathlib import Path

import pytest
from fmops.core import config, manifest, storage
from fmops.core.errors import InputError

from tests.helpers import fmops


class Example(config.StageConfig):
    steps: int = 10
    lr: float = 1e-3
    name: str = "x"


def test_config_precedence_defaults_file_flags_set(tmp_path):
    file = tmp_path / "c.yaml"
    file.write_text("steps: 20\nlr: 0.5\n")
    loaded = config.load(Example, "none", str(file), ["lr=0.25"], steps=30, name=None)
    assert (loaded.steps, loaded.lr, loaded.name) == (30, 0.25, "x")


@pytest.mark.parametrize(("text", "overrides", "message"), [
    ("stepz: 1\n", [], "c.yaml: field 'stepz': unknown field"),
    ("steps: many\n", [], "c.yaml: field 'steps': Input should be a valid integer"),
    ("steps: [1\n", [], "c.yaml:2: not valid YAML"),
    ("{}\n", ["nme=y"], "--set nme=y: field 'nme': unknown field"),
    ("{}\n", ["lr"], "--set lr: expected KEY=VALUE"),
])  # fmt: skip
def test_config_errors_name_file_and_field(tmp_path, text, overrides, message):
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(InputError) as error:
        config.load(Example, "none", str(tmp_path / "c.yaml"), overrides)
    assert message in str(error.value)


def test_atomic_write_and_directory_hash(tmp_path):
    storage.write_json(str(tmp_path / "d" / "a.json"), {"a": 1})
    before = storage.sha256(str(tmp_path / "d"))
    storage.atomic_write_text(str(tmp_path / "d" / "b.txt"), "b")
    assert storage.sha256(str(tmp_path / "d")) != before
    assert storage.read_json(f"file://{tmp_path}/d/a.json") == {"a": 1}
    assert not list((tmp_path / "d").glob(".*.tmp"))


def test_require_complete_model(tmp_path):
    (tmp_path / "hf").mkdir()
    (tmp_path / "hf" / "config.json").write_text("{}")
    assert manifest.require_complete_model(str(tmp_path / "hf")) == str(tmp_path / "hf")
    assert manifest.require_complete_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    (tmp_path / "half").mkdir()
    (tmp_path / "half" / "metrics.json").write_text("{}")
    with pytest.raises(InputError, match="incomplete fmops output"):
        manifest.require_complete_model(str(tmp_path / "half"))
    with pytest.raises(InputError, match="model path does not exist"):
        manifest.require_complete_model(str(tmp_path / "missing"))


def test_collect_refuses_incomplete_and_copies_small_results(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"loss": 1.5}')
    result = fmops("collect", "--output", str(out), "--results-dir", str(tmp_path / "r"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == f"fmops collect: error: {out}: incomplete fmops output (no manifest.json)"
    manifest.write(str(out), stage="t", inputs={}, config={}, metrics={"loss": 1.5}, started_at=manifest.now())
    fmops("collect", "--output", str(out), "--results-dir", str(tmp_path / "r"))
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == {"loss": 1.5}


def test_notify_records_and_posts(tmp_path):
    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's naming)
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.handle_request, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    fmops("notify", "--workflow", "wf-1", "--status", "Failed", "--record", str(tmp_path / "status.json"),
          env={"FMOPS_WEBHOOK_URL": url})  # fmt: skip
    server.server_close()
    assert json.loads((tmp_path / "status.json").read_text())["status"] == "Failed"
    assert received and received[0]["text"] == "fmops workflow wf-1: Failed"


def test_launch_runs_one_process_in_place_and_builds_an_accelerate_line():
    from argparse import Namespace

    from fmops.steps.launch import accelerate_command

    line = accelerate_command(Namespace(nodes=2, gpus_per_node=8, strategy="fsdp2"), ["pretrain", "--model", "m"])
    assert line[:2] == ["accelerate", "launch"]
    assert line[line.index("--num_processes") + 1] == "16" and line[line.index("--num_machines") + 1] == "2"
    assert line[-4:] == ["fmops.cli", "pretrain", "--model", "m"]
    assert Path(line[line.index("--config_file") + 1]).name == "fsdp2.yaml"
    result = fmops("launch", "--", "plan", "--run-root", "/r", "--run-sft", "maybe", "--results-dir", "/tmp/x",
                   check=False)  # fmt: skip
    assert result.returncode == 2 and "fmops plan: error: --run-sft 'maybe'" in result.stderr


def test_unknown_command_is_a_usage_error():
    result = fmops("frobnicate", check=False)
    assert result.returncode == 2
    assert "invalid choice: 'frobnicate'" in result.stderr
