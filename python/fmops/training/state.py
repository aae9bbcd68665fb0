"""The training loop's typed state: `TrainState` (what a checkpoint holds) and `StepRecord` (one optimizer step).

A step's loss and gradient norm stay device tensors (`pending_*`) until the loop reads them back in one batch
every logging_steps (the host never waits for the device inside a step); `read_back` then fills the float
fields. The two never share a field, so a record's `loss` is always a float or None, never a tensor.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class StepRecord:
    """One optimizer step, as metrics.json's `history` lists it (`as_dict`)."""

    step: int
    lr: float
    tokens: int  # trained by all ranks in this step
    first: bool  # the first step of this process (compile and warm-up: left out of the throughput)
    pending_loss: Any = None  # the device tensor, until read back
    pending_grad_norm: Any = None  # the device tensor (None without clipping), until read back
    loss: float | None = None
    grad_norm: float | None = None
    seconds: float = 0.0  # launch time; on a read-back step also the wait for the queued work

    @property
    def read(self) -> bool:
        return self.pending_loss is None

    def as_dict(self) -> dict[str, Any]:
        if not self.read:
            raise ValueError(f"step {self.step}: its loss has not been read back from the device")
        return {
            "loss": self.loss,
            "lr": self.lr,
            "grad_norm": self.grad_norm,
            "step": self.step,
            "tokens": self.tokens,
            "first": self.first,
            "seconds": self.seconds,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> StepRecord:
        return cls(
            step=saved["step"],
            lr=saved["lr"],
            tokens=saved["tokens"],
            first=saved["first"],
            loss=saved["loss"],
            grad_norm=saved["grad_norm"],
            seconds=saved["seconds"],
        )


@dataclass
class TrainState:
    """Where training stands: the step (which is also the data position, see sampling.py) and what it measured."""

    step: int = 0
    history: list[StepRecord] = field(default_factory=list)
    evals: list[dict[str, float]] = field(default_factory=list)  # per evaluation: step and one loss per eval set
    tokens_per_rank: int = 0
    resumed_at: list[int] = field(default_factory=list)  # the steps reruns resumed from
    optimizer: str | None = None  # the torch optimizer's class name
    fused: bool | None = None  # whether it runs its fused kernel

    def as_dict(self) -> dict[str, Any]:
        """What a checkpoint's trainer_state.json holds (every record read back)."""
        return {
            "step": self.step,
            "history": [record.as_dict() for record in self.history],
            "evals": self.evals,
            "tokens_per_rank": self.tokens_per_rank,
            "resumed_at": self.resumed_at,
            "optimizer": self.optimizer,
            "fused": self.fused,
        }

    @classmethod
    def from_dict(cls, saved: dict[str, Any]) -> TrainState:
        return cls(
            step=saved["step"],
            history=[StepRecord.from_dict(record) for record in saved["history"]],
            evals=saved["evals"],
            tokens_per_rank=saved["tokens_per_rank"],
            resumed_at=saved.get("resumed_at", []),
            optimizer=saved.get("optimizer"),
            fused=saved.get("fused"),
        )
