"""Fixtures of the end-to-end tests (on top of tests/conftest.py's)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator

import pytest

from tests.helpers import create_bucket


@pytest.fixture
def s3_env(s3_server, request) -> Iterator[dict[str, str]]:
    """tests/conftest.py's S3 server with the test module's bucket (its `BUCKET`) created; the environment that
    reaches it."""
    create_bucket(request.module.BUCKET)
    yield s3_server


@pytest.fixture(scope="session")
def vllm_python() -> str:
    """The vLLM environment's Python: $FMOPS_VLLM_PYTHON or the one `fmops serve --engine vllm` created. Under
    CI=true a missing one is created here (minutes, once per machine: it is cached under $FMOPS_CACHE);
    elsewhere the test skips, saying how to get it."""
    from fmops.serving import vllm_env

    problem = vllm_env.bundled_engine_problem()
    if problem:
        pytest.skip(f"vLLM cannot run here: {problem}")
    python = vllm_env.existing_python()
    if python:
        return python
    if os.environ.get("CI") != "true":
        pytest.skip(
            f"no vLLM environment (FMOPS_VLLM_PYTHON unset, none at {vllm_env.env_dir()}): run "
            "`fmops serve --engine vllm --model DIR` once to create it, or set CI=true to let the tests create it"
        )
    return vllm_env.ensure_python(lambda line: print(line, file=sys.stderr, flush=True))
