"""Fixtures of the evaluation tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def model_dir(tmp_path) -> Path:
    """A plain Hugging Face model directory (only its config.json and chat template are looked at before
    the refusal)."""
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text("{}")
    (model / "model.safetensors").write_bytes(b"")
    (model / "chat_template.jinja").write_text("{{ messages[0]['content'] }}")
    return model
