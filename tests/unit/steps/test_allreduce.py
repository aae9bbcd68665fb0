"""`fmops allreduce`: bad sizes are refused as bad input (the measurement itself runs under torchrun in
tests/e2e/test_core_allreduce.py)."""

import pytest

from tests.helpers import cli


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--size-mb", "-1"], "allreduce: --size-mb -1: expected a size above 0"),
        (["--iters", "0"], "allreduce: --iters 0: expected at least 1"),
    ],
)
def test_allreduce_refuses_bad_sizes(args, message):
    result = cli("allreduce", *args)
    assert (result.returncode, result.stderr) == (2, f"fmops allreduce: error: {message}\n")
