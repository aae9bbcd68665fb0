"""How `fmops serve` runs its engine: one value the command line fills and every layer below passes on."""

from __future__ import annotations

from dataclasses import dataclass

from fmops.core.errors import InputError

ENGINES = ("transformers", "vllm", "auto")


def check_engine(engine: str) -> None:
    if engine not in ENGINES:
        raise InputError(f"--engine {engine}: must be one of {', '.join(ENGINES)}")


@dataclass(frozen=True)
class EngineOptions:
    """`engine` is `transformers`, `vllm` or `auto`; every other field applies to vLLM only."""

    engine: str = "transformers"
    served_name: str = ""
    max_model_len: int = 0
    extra_args: tuple[str, ...] = ()
    ready_timeout: float = 600.0

    def __post_init__(self) -> None:
        check_engine(self.engine)
        if self.max_model_len < 0:
            raise InputError(f"--max-model-len {self.max_model_len}: must not be negative")
        if not self.ready_timeout > 0:
            raise InputError(f"--ready-timeout {self.ready_timeout:g}: must be positive")

    def sets_vllm_only(self) -> bool:
        return bool(self.served_name or self.max_model_len or self.extra_args)


DEFAULT = EngineOptions()
