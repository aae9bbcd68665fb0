"""Against an endpoint, generation goes through chat (or plain) completions and log-likelihood through
completions on token ids with the served model's tokenizer, which must be here (in-process)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from fmops.core.errors import InputError
from fmops.evaluation import endpoint, harness
from fmops.evaluation.endpoint import Endpoint

GENERATE = SimpleNamespace(OUTPUT_TYPE="generate_until")
CHOICE = SimpleNamespace(OUTPUT_TYPE="multiple_choice")


def runs(apply_chat_template: bool, tokenizer: str = "") -> list:
    settings = harness.Settings(apply_chat_template=apply_chat_template, tokenizer=tokenizer)
    served = Endpoint(base_url="http://127.0.0.1:8000/v1", model_name="/models/m", api_key="k")
    return harness.model_runs({"add": GENERATE, "choice": CHOICE}, None, served, settings)


def test_log_likelihood_is_scored_on_the_models_own_token_ids():
    (chat, _, generate), (scored, args, tasks) = runs(True)
    assert (chat, generate) == ("local-chat-completions", [GENERATE])
    assert (scored, tasks) == ("local-completions", [CHOICE])
    assert args["base_url"] == "http://127.0.0.1:8000/v1/completions"
    assert (args["tokenized_requests"], args["tokenizer_backend"], args["tokenizer"]) == (
        True,
        "huggingface",
        "/models/m",
    )
    assert args["header"] == {"Authorization": "Bearer k"}
    assert runs(True, tokenizer="/elsewhere/tok")[1][1]["tokenizer"] == "/elsewhere/tok"


def test_without_a_chat_template_generation_sends_text_apart_from_the_scored_tasks():
    (plain_model, plain, generate), (_, scored, score) = runs(False)
    assert (plain_model, plain["tokenized_requests"], generate) == ("local-completions", False, [GENERATE])
    assert (scored["tokenized_requests"], score) == (True, [CHOICE])


def test_the_served_models_tokenizer_must_be_here(tmp_path):
    served = Endpoint(base_url="http://h/v1", model_name="demo")
    with pytest.raises(InputError) as refused:
        endpoint.require_tokenizer(served, "", "demo_choice")
    assert str(refused.value) == (
        "task demo_choice scores log-likelihoods on the model's own tokens, so it needs the served model's "
        "tokenizer here: 'demo' is no tokenizer directory; pass --set tokenizer=DIR (the model directory)"
    )
    (tmp_path / "tokenizer.json").write_text("{}")
    endpoint.require_tokenizer(served, str(tmp_path), "demo_choice")
    endpoint.require_tokenizer(Endpoint(base_url="http://h/v1", model_name=str(tmp_path)), "", "demo_choice")
