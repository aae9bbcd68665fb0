"""The smoke test: does a freshly rolled-out endpoint answer like an OpenAI server?

With the official `openai` client: the model list (the served model first), a chat completion, a text
completion, both again streamed, then a short load test (fmops.serving.loadtest). Each check is recorded;
the test passes only when all do. Nothing here judges answer quality: that is `fmops monitor`'s job.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from fmops.data.demo import question
from fmops.serving import loadtest

CHAT = [{"role": "user", "content": question(2, 3)}]
PROMPT = "2+3="
MAX_TOKENS = 8


def wait_for_models(client, deadline_s: float) -> list[str]:
    """The ids `/v1/models` lists, retrying connection errors until the deadline (a Service needs a
    moment to route to a pod that just became ready)."""
    from openai import APIConnectionError

    deadline = time.monotonic() + deadline_s
    while True:
        try:
            return [model.id for model in client.models.list().data]
        except APIConnectionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


def check_chat(client, model: str) -> dict[str, Any]:
    reply = client.chat.completions.create(model=model, messages=CHAT, max_tokens=MAX_TOKENS, temperature=0.0)
    choice = reply.choices[0]
    assert isinstance(choice.message.content, str), "chat: no message content"
    assert choice.finish_reason in ("stop", "length"), f"chat: finish_reason {choice.finish_reason!r}"
    return {"content": choice.message.content, "finish_reason": choice.finish_reason}


def check_completion(client, model: str) -> dict[str, Any]:
    reply = client.completions.create(model=model, prompt=PROMPT, max_tokens=MAX_TOKENS, temperature=0.0)
    choice = reply.choices[0]
    assert isinstance(choice.text, str), "completion: no text"
    assert choice.finish_reason in ("stop", "length"), f"completion: finish_reason {choice.finish_reason!r}"
    return {"text": choice.text, "finish_reason": choice.finish_reason}


def check_chat_stream(client, model: str) -> dict[str, Any]:
    stream = client.chat.completions.create(model=model, messages=CHAT, max_tokens=MAX_TOKENS, stream=True)
    parts, finish = [], None
    for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].delta.content or "")
            finish = chunk.choices[0].finish_reason or finish
    assert finish in ("stop", "length"), f"chat stream: ended without a finish_reason ({finish!r})"
    return {"chunks": len(parts), "content": "".join(parts), "finish_reason": finish}


def check_completion_stream(client, model: str) -> dict[str, Any]:
    stream = client.completions.create(model=model, prompt=PROMPT, max_tokens=MAX_TOKENS, stream=True)
    parts, finish = [], None
    for chunk in stream:
        if chunk.choices:
            parts.append(chunk.choices[0].text or "")
            finish = chunk.choices[0].finish_reason or finish
    assert finish in ("stop", "length"), f"completion stream: ended without a finish_reason ({finish!r})"
    return {"chunks": len(parts), "text": "".join(parts), "finish_reason": finish}


CHECKS: dict[str, Callable[[Any, str], dict[str, Any]]] = {
    "chat": check_chat,
    "completion": check_completion,
    "chat_stream": check_chat_stream,
    "completion_stream": check_completion_stream,
}


def smoke_test(
    base_url: str,
    *,
    model: str = "",
    api_key: str = "",
    timeout: float = 60.0,
    connect_deadline_s: float = 60.0,
    load_requests: int = 8,
    load_concurrency: int = 4,
) -> dict:
    """Run every check against `base_url` (ending in /v1). Returns {"passed", "model", "checks", "load",
    "failures"}; raises nothing for a failing server: a failure is a result."""
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout, max_retries=0)
    result: dict[str, Any] = {"url": base_url, "model": model, "checks": {}, "load": None, "failures": []}
    try:
        listed = wait_for_models(client, connect_deadline_s)
    except Exception as error:
        result["failures"].append(f"models: {loadtest.error_kind(error)}: {error}")
        result["passed"] = False
        return result
    if not listed or (model and model not in listed):
        result["failures"].append(f"models: expected {model or 'a model'} in /v1/models, got {listed}")
    model = model or (listed[0] if listed else "")
    result["model"] = model
    for name, check in CHECKS.items() if not result["failures"] else ():
        try:
            result["checks"][name] = check(client, model)
        except Exception as error:  # a failing check is recorded, the others still run
            result["failures"].append(f"{name}: {loadtest.error_kind(error)}: {error}")
    if not result["failures"]:
        result["load"] = asyncio.run(
            loadtest.run(
                base_url,
                model,
                concurrency=load_concurrency,
                requests=load_requests,
                input_len=8,
                output_len=MAX_TOKENS,
                timeout=timeout,
                api_key=api_key,
            )
        )
        if result["load"]["errors"]:
            result["failures"].append(
                f"load: {result['load']['errors']} of {load_requests} requests failed: {result['load']['error_kinds']}"
            )
    result["passed"] = not result["failures"]
    return result
