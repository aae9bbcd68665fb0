"""`fmops serve`: transformers serve pinned to the tiny model, driven with the official openai client.
Bad input: tests/unit/serving/test_serve_inputs.py."""

from __future__ import annotations

import http.client
from pathlib import Path

import openai
import pytest

pytestmark = pytest.mark.slow  # serves the tiny model


def client(server, api_key: str = "any-key-at-all") -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url, api_key=api_key, timeout=60, max_retries=0)


def test_models_lists_the_served_model_first_under_the_id_requests_use(served, tiny_model):
    ids = [model.id for model in client(served).models.list().data]
    assert ids[0] == str(tiny_model)
    reply = client(served).completions.create(model=ids[0], prompt="1+1=", max_tokens=2)
    assert reply.model == ids[0]


def test_chat_completion_with_any_api_key(served, tiny_model):
    reply = client(served, "sk-whatever").chat.completions.create(
        model=str(tiny_model), messages=[{"role": "user", "content": "What is 2+3?"}], max_tokens=4
    )
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert isinstance(reply.choices[0].message.content, str)
    assert 1 <= reply.usage.completion_tokens <= 4


def test_completion(served, tiny_model):
    reply = client(served).completions.create(model=str(tiny_model), prompt="12+34=", max_tokens=3)
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 3


def test_chat_streaming_yields_chunks_then_a_finish_reason(served, tiny_model):
    stream = client(served).chat.completions.create(
        model=str(tiny_model), messages=[{"role": "user", "content": "What is 2+3?"}], max_tokens=4, stream=True
    )
    chunks = [chunk for chunk in stream if chunk.choices]
    assert len(chunks) >= 2
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_completion_streaming(served, tiny_model):
    stream = client(served).completions.create(model=str(tiny_model), prompt="7+8=", max_tokens=4, stream=True)
    texts = [chunk.choices[0].text for chunk in stream if chunk.choices]
    assert len(texts) >= 2
    assert all(isinstance(text, str) for text in texts)


def test_an_unknown_model_id_is_refused(served):
    with pytest.raises(openai.APIStatusError) as raised:
        client(served).completions.create(model="someone/else", prompt="1+1=", max_tokens=2)
    assert raised.value.status_code in (400, 404)


def raw_get(server, path: str) -> int:
    """The status of GET `path` sent byte for byte (HTTP clients normalise `..` and `//` before sending)."""
    connection = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


def command_lines() -> dict[str, str]:
    lines = {}
    for entry in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            lines[entry.parent.name] = entry.read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
    return lines


def test_api_key_is_enforced_when_configured_and_sigterm_stops_cleanly(tiny_model):
    from fmops.serving.process import LocalServer, get_json

    server = LocalServer(str(tiny_model), api_key="s3cret", threads=1).start()
    try:
        with pytest.raises(openai.AuthenticationError):
            client(server, "wrong").models.list()
        assert client(server, "s3cret").models.list().data[0].id == str(tiny_model)
        assert get_json(server.base_url.removesuffix("/v1") + "/health") == {"status": "ok"}
        for path in ["//x/v1/models", "/health/../v1/models", "/x/../v1/models", "/%2e%2e/v1/models", "/reset"]:
            assert raw_get(server, path) in (400, 401), path
        assert not [pid for pid, argv in command_lines().items() if "s3cret" in argv], "the key is on a command line"
    finally:
        status = server.stop()
    assert status == 0
    assert "Finished server process" in server.log_tail()
