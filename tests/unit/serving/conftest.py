"""Fixtures of the serving unit tests."""

from __future__ import annotations

import pytest

from tests.unit.serving.fake_kube import FakeKube


@pytest.fixture
def fake(tmp_path, monkeypatch):
    """A started fake, the kubernetes client pointed at it through a kubeconfig; `ready` set by the test."""
    started: list[FakeKube] = []

    def start(**options) -> FakeKube:
        kube = FakeKube(**options).start()
        started.append(kube)
        monkeypatch.setenv("KUBECONFIG", str(kube.kubeconfig(tmp_path / "kubeconfig")))
        monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
        return kube

    yield start
    for kube in started:
        kube.stop()
