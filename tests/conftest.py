"""Shared fixtures. Trained models are built once per test session, even under pytest-xdist:
the first worker trains and the others wait on a file lock, then reuse the output.

A test that asks for a trained model or a server costs seconds to minutes: it must be marked `slow`, so that
`pytest -m "not slow"` stays in-process and fast. Collection fails when one is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import fmops, pipeline_replay, shared_output

# Fixtures that train a model or start a server.
COSTLY_FIXTURES = {"pretrained_model", "sft_model", "dpo_model", "tiny_model", "served"}
# The chain of trained demo models: every test that uses one runs on the same xdist worker (`--dist loadgroup`
# in pyproject.toml), which trains them once, in order, while the other worker runs everything else; spread
# over both, each worker stalled on the other's file lock for minutes.
TRAINED_CHAIN = {"pretrained_model", "sft_model", "dpo_model"}


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if TRAINED_CHAIN & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("trained-demo-models"))
    unmarked = [
        item.nodeid
        for item in items
        if COSTLY_FIXTURES & set(getattr(item, "fixturenames", ())) and not item.get_closest_marker("slow")
    ]
    if unmarked:
        names = ", ".join(unmarked)
        raise pytest.UsageError(f"uses a model-training or server fixture but is not marked slow: {names}")


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    from fmops.data.demo import shipped_dir

    return shipped_dir()


@pytest.fixture
def s3_server(monkeypatch) -> Iterator[dict[str, str]]:
    """moto's S3-compatible server on loopback; the environment that reaches it is set and returned."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {
        "AWS_ENDPOINT_URL": f"http://{host}:{port}",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    yield env
    server.stop()


@pytest.fixture(scope="session")
def pretrained_model(tmp_path_factory, demo_dir) -> Path:
    """`fmops pretrain --model tiny` on the demo corpus (the `demo` recipe), replaying as the pipeline does."""
    return shared_output(
        tmp_path_factory,
        "pretrain",
        lambda out: fmops(
            "pretrain",
            "--model",
            "tiny",
            "--data",
            str(demo_dir / "pretrain.jsonl"),
            *pipeline_replay(demo_dir),
            "--output",
            str(out),
            "--config",
            "demo",
        ),
    )


@pytest.fixture(scope="session")
def sft_model(tmp_path_factory, demo_dir, pretrained_model) -> Path:
    return shared_output(
        tmp_path_factory,
        "sft",
        lambda out: fmops(
            "sft",
            "--model",
            str(pretrained_model),
            "--data",
            str(demo_dir / "sft.jsonl"),
            "--output",
            str(out),
            "--config",
            "demo",
        ),
    )


@pytest.fixture(scope="session")
def dpo_model(tmp_path_factory, demo_dir, sft_model) -> Path:
    return shared_output(
        tmp_path_factory,
        "dpo",
        lambda out: fmops(
            "dpo",
            "--model",
            str(sft_model),
            "--data",
            str(demo_dir / "dpo.jsonl"),
            "--output",
            str(out),
            "--config",
            "demo",
        ),
    )


_SERVERS: dict[str, object] = {}


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    from fmops.training.model import write_untrained_tiny

    return shared_output(tmp_path_factory, "serve-tiny-model", write_untrained_tiny)


@pytest.fixture(scope="session")
def served(tiny_model):
    """One `fmops serve --model TINY --threads 1` on loopback for the session. One torch thread: OpenMP
    threads spin, and on 2 shared cores that is ~10x slower."""
    from fmops.serving.process import LocalServer

    key = str(tiny_model)
    if key not in _SERVERS:
        _SERVERS[key] = LocalServer(str(tiny_model), threads=1).start()
    server = _SERVERS[key]
    yield server
    server.stop()
