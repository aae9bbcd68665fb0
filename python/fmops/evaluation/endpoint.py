"""Checks on an OpenAI-compatible endpoint before the harness talks to it.

Reachability: `GET /v1/models` through the openai client, whose bounded retries with backoff are the
retry policy (`max_retries`); after them, one clear line. Log-likelihood: the harness scores choices with
`/v1/completions` and `echo` + `logprobs` (the prompt's token log-probabilities). vLLM returns them;
`transformers serve` accepts the request but drops both fields, so a log-likelihood task is refused
rather than faked. API key: given by the caller (the CLI reads $OPENAI_API_KEY, as lm-eval's API models do);
the harness sends the same key (fmops.evaluation.harness).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fmops.core.errors import InputError

NEEDS_VLLM = (
    "{url}: task {task} needs prompt log-likelihoods (/v1/completions with echo and logprobs), which this "
    "endpoint does not return; serve the model with vLLM for log-likelihood tasks (the local `transformers "
    "serve` ignores logprobs/echo)"
)


@dataclass(frozen=True)
class Endpoint:
    base_url: str  # ends with /v1
    model_name: str
    api_key: str = field(default="", repr=False)


def base_url(url: str) -> str:
    """`http://host:8000`, `.../v1` or `.../v1/` -> `http://host:8000/v1`."""
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise InputError(f"--endpoint {url}: expected an http:// or https:// URL")
    return url if url.endswith("/v1") else f"{url}/v1"


def _client(url: str, max_retries: int, timeout: float, api_key: str):
    import openai

    return openai.OpenAI(
        base_url=url,
        api_key=api_key or "none",
        max_retries=max_retries,
        timeout=timeout,
    )


def connect(url: str, model_name: str, max_retries: int = 3, timeout: float = 10.0, api_key: str = "") -> Endpoint:
    """The endpoint and the model name to ask for (the first served model when none is given)."""
    import openai

    root = base_url(url)
    try:
        served = [model.id for model in _client(root, max_retries, timeout, api_key).models.list()]
    except openai.APIConnectionError as error:
        cause = error.__cause__ or error
        raise InputError(f"{root}: endpoint unreachable after {max_retries + 1} tries ({cause})") from None
    except openai.APIStatusError as error:
        raise InputError(f"{root}/models: endpoint answered HTTP {error.status_code}") from None
    if model_name and served and model_name not in served:
        raise InputError(f"{root}/models: model '{model_name}' is not served here (served: {', '.join(served)})")
    if not model_name:
        if not served:
            raise InputError(f"{root}/models: the endpoint serves no model; pass --model-name")
        model_name = served[0]
    return Endpoint(base_url=root, model_name=model_name, api_key=api_key)


def require_tokenizer(endpoint: Endpoint, tokenizer: str, task: str) -> None:
    """Log-likelihood through an endpoint is scored on the model's own tokens: its tokenizer must be here."""
    import os

    source = tokenizer or endpoint.model_name
    if not any(os.path.isfile(os.path.join(source, name)) for name in ("tokenizer.json", "tokenizer_config.json")):
        raise InputError(
            f"task {task} scores log-likelihoods on the model's own tokens, so it needs the served model's "
            f"tokenizer here: '{source}' is no tokenizer directory; pass --set tokenizer=DIR (the model directory)"
        )


def require_loglikelihood(endpoint: Endpoint, task: str, max_retries: int = 3, timeout: float = 30.0) -> None:
    """Refuse a log-likelihood task unless the endpoint echoes prompt logprobs (vLLM does)."""
    import openai

    try:
        reply = _client(endpoint.base_url, max_retries, timeout, endpoint.api_key).completions.create(
            model=endpoint.model_name, prompt="1+1=2", max_tokens=1, temperature=0, echo=True, logprobs=1
        )
    except openai.APIError:
        raise InputError(NEEDS_VLLM.format(url=endpoint.base_url, task=task)) from None
    logprobs = reply.choices[0].logprobs if reply.choices else None
    if not logprobs or not logprobs.token_logprobs:
        raise InputError(NEEDS_VLLM.format(url=endpoint.base_url, task=task))
