"""Hostile input files are refused with one line before any model code runs: a JSONL record over the per-record
byte cap or nested too deeply, and a model directory whose weights are not safetensors (a pickle)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fmops.core import manifest, registry
from fmops.core.errors import InputError
from fmops.data import jsonl

from tests.helpers import cli

GOOD = {"messages": [{"role": "user", "content": "What is 1+2?"}, {"role": "assistant", "content": "3"}]}
LIMIT = jsonl.MAX_RECORD_BYTES
OVER = f"record of over {LIMIT} bytes exceeds the limit of 1 MiB per record"


def record_of(size: int) -> bytes:
    """A JSON object line of exactly `size` bytes."""
    head, tail = b'{"text": "', b'"}'
    return head + b"a" * (size - len(head) - len(tail)) + tail


def lines_of(path: Path) -> list[int]:
    return [number for number, _ in jsonl.iter_lines(str(path))]


def test_a_record_at_the_limit_is_read_and_one_byte_more_is_refused(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_bytes(b"{}\n" + record_of(LIMIT) + b"\n{}\n")
    assert [len(line) for _, line in jsonl.iter_lines(str(data))] == [2, LIMIT, 2]
    data.write_bytes(b"{}\n" + record_of(LIMIT + 1) + b"\n{}\n")
    with pytest.raises(InputError) as refusal:
        lines_of(data)
    assert str(refusal.value) == f"{data}:2: {OVER}"


def test_an_endless_line_is_refused_once_past_the_limit(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_bytes(b"{}\r\n" + b"[" * (3 * LIMIT))  # no line end at all
    with pytest.raises(InputError, match=f"^{data}:2: record of over"):
        lines_of(data)


def test_line_ends_and_blank_lines_are_kept_as_before(tmp_path):
    data = tmp_path / "d.jsonl"
    data.write_bytes(b'{"a": 1}\r\n\n{"b": "x\xe2\x80\xa8y"}')
    assert list(jsonl.iter_lines(str(data))) == [(1, '{"a": 1}'), (2, ""), (3, '{"b": "x\u2028y"}')]
    assert [record for _, record in jsonl.iter_records(str(data))] == [{"a": 1}, {"b": "x\u2028y"}]


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ("[" * 100_000, "JSON nested too deeply"),
        ('{"a": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply"),
        ('{"n": ' + "7" * 5000 + "}", "malformed JSON (Exceeds the limit (4300 digits) for integer string"),
    ],
)
def test_a_record_the_parser_cannot_take_is_one_line(tmp_path, line, problem):
    data = tmp_path / "d.jsonl"
    data.write_text(json.dumps(GOOD) + "\n" + line + "\n")
    with pytest.raises(InputError) as refusal:
        list(jsonl.iter_records(str(data)))
    assert str(refusal.value).startswith(f"{data}:2: {problem}") and "\n" not in str(refusal.value)


def model_dir(folder: Path, *weights: str) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    for name in weights:
        (folder / name).write_bytes(b"\x80\x04")  # a pickle's first bytes; never opened
    return folder


def sft_refusal(tmp_path: Path, model: Path, data: Path) -> str:
    result = cli("sft", "--model", str(model), "--data", str(data), "--output", str(tmp_path / "out"))
    assert (result.returncode, result.stdout, "Traceback" in result.stderr) == (2, "", False), result
    assert result.stderr.count("\n") == 1 and not (tmp_path / "out").exists()
    return result.stderr.removeprefix("fmops sft: error: ").removesuffix("\n")


@pytest.mark.parametrize(
    ("content", "problem"),
    [(record_of(64 * 1024 * 1024), OVER), (b"[" * 100_000, "JSON nested too deeply")],
    ids=["64 MiB record", "100k nested"],
)
def test_fmops_sft_refuses_hostile_data_with_one_line(tmp_path, content, problem):
    model = model_dir(tmp_path / "model", "model.safetensors")
    data = tmp_path / "sft.jsonl"
    data.write_bytes(json.dumps(GOOD).encode() + b"\n" + content + b"\n")
    assert sft_refusal(tmp_path, model, data) == f"{data}:2: {problem}"


def test_fmops_sft_refuses_pickled_weights(tmp_path):
    model = model_dir(tmp_path / "model", "pytorch_model.bin")
    data = tmp_path / "sft.jsonl"
    data.write_text(json.dumps(GOOD) + "\n")
    assert sft_refusal(tmp_path, model, data) == f"{model}: {manifest.SAFETENSORS_ONLY}"


@pytest.mark.parametrize(
    "weights",
    [(), ("pytorch_model.bin",), ("model.pt", "training_args.bin"), ("model.ckpt",)],
)
def test_a_model_directory_without_safetensors_is_refused(tmp_path, weights):
    plain = model_dir(tmp_path / "plain", *weights)
    with pytest.raises(InputError) as refusal:
        manifest.require_complete_model(str(plain))
    assert str(refusal.value) == f"{plain}: {manifest.SAFETENSORS_ONLY}"
    complete = model_dir(tmp_path / "complete", *weights)
    manifest.write(str(complete), stage="sft", inputs={}, config={}, metrics={}, started_at=manifest.now())
    with pytest.raises(InputError, match="no \\*.safetensors weights"):
        manifest.require_complete_model(str(complete))


def test_safetensors_weights_are_accepted_sharded_or_not(tmp_path):
    single = model_dir(tmp_path / "single", "model.safetensors")
    sharded = model_dir(tmp_path / "sharded", "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    assert [manifest.require_complete_model(str(m)) for m in (single, sharded)] == [str(single), str(sharded)]


def test_a_registry_version_with_pickled_weights_is_refused_through_its_pointer(tmp_path):
    from fmops.models import loading

    source = model_dir(tmp_path / "source", "pytorch_model.bin")
    manifest.write(str(source), stage="sft", inputs={}, config={}, metrics={}, started_at=manifest.now())
    version = registry.publish(str(tmp_path / "registry"), "demo", str(source), version="v1")
    with pytest.raises(InputError) as refusal:
        loading.check(str(tmp_path / "registry" / "models" / "demo" / "latest"))
    assert str(refusal.value) == f"{version}: {manifest.SAFETENSORS_ONLY}"
