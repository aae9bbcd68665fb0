"""Fixtures of the core library tests."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest


@pytest.fixture
def copied(monkeypatch) -> list[Path]:
    """The files local storage copies, in the order it copies them: shutil.copy2 keeps each source's mtime,
    so the copies' times cannot tell which was written last."""
    order: list[Path] = []
    copy2 = shutil.copy2

    def recording(source, target, **kwargs):
        order.append(Path(target))
        return copy2(source, target, **kwargs)

    monkeypatch.setattr(shutil, "copy2", recording)
    return order
