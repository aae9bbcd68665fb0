"""`fmops collect`: refuses an incomplete output, copies the small results of a complete one."""

import json

from fmops.core import manifest
from fmops.steps.collect import collect

from tests.helpers import cli


def test_collect_refuses_incomplete_and_copies_small_results(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "metrics.json").write_text('{"loss": 1.5}')
    (out / "model.safetensors").write_bytes(b"large")
    result = cli("collect", "--output", str(out), "--results-dir", str(tmp_path / "r"))
    assert result.returncode == 2
    assert result.stderr.strip() == f"fmops collect: error: {out}: incomplete fmops output (no manifest.json)"
    assert not (tmp_path / "r").exists()
    manifest.write(str(out), stage="t", inputs={}, config={}, metrics={"loss": 1.5}, started_at=manifest.now())
    result = cli("collect", "--output", str(out), "--results-dir", str(tmp_path / "r"))
    assert result.returncode == 0
    assert json.loads((tmp_path / "r" / "metrics.json").read_text()) == {"loss": 1.5}
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == ["metrics.json"]
    assert result.stdout == f"{tmp_path / 'r' / 'metrics.json'}  (from {out}/metrics.json)\n"


def test_collect_returns_each_copy_and_its_source(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("# report")
    (out / "chart.png").write_bytes(b"\x89PNG")
    manifest.write(str(out), stage="t", inputs={}, config={}, metrics={}, started_at=manifest.now())
    copied = collect(output=str(out), results_dir=tmp_path / "r")
    assert {path.name: source for path, source in copied.items()} == {
        "report.md": f"{out}/report.md",
        "chart.png": f"{out}/chart.png",
    }
    assert (tmp_path / "r" / "chart.png").read_bytes() == b"\x89PNG"
