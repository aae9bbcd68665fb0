"""Fixtures of the end-to-end tests (on top of tests/conftest.py's)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.helpers import create_bucket


@pytest.fixture
def s3_env(s3_server, request) -> Iterator[dict[str, str]]:
    """tests/conftest.py's S3 server with the test module's bucket (its `BUCKET`) created; the environment that
    reaches it."""
    create_bucket(request.module.BUCKET)
    yield s3_server
