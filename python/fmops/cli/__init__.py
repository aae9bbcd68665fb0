"""The `fmops` command. Thin: parse, call one module's `run`, map errors to exit codes.

Exit status: 0 success, 2 bad input (one line on stderr, no traceback), 1 anything else.
Each subcommand lives in its own module exposing `add_arguments(parser)` and `run(args) -> int`;
modules are imported lazily so `fmops validate` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys

from fmops import __version__
from fmops.core.errors import InputError

DESCRIPTION = "Foundation model operations: pretrain, finetune, evaluate and deploy, on Argo Workflows or locally."

# name -> (module, one-line help). The order is the order `fmops --help` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("fmops.cli.run", "run a committed WorkflowTemplate locally, end to end"),
    "render": ("fmops.cli.render", "write workflows/*.yaml from the Hera definitions"),
    "validate": ("fmops.cli.validate", "check rendered workflows: structure, contracts, policy"),
    "demo": ("fmops.cli.demo", "write the demo datasets (two-digit addition)"),
    "tokenize": ("fmops.cli.tokenize", "tokenize text into binary token shards for pretraining"),
    "pretrain": ("fmops.cli.pretrain", "continue pretraining a causal LM"),
    "sft": ("fmops.cli.sft", "instruction-tune a model with TRL's SFTTrainer"),
    "dpo": ("fmops.cli.dpo", "align a model with TRL's DPOTrainer"),
    "evaluate": ("fmops.cli.evaluate", "evaluate a model or endpoint with lm-evaluation-harness"),
    "gate": ("fmops.cli.gate", "decide whether a candidate model may be promoted"),
    "deploy": ("fmops.cli.deploy", "roll out a model behind vLLM (or locally) and smoke-test it"),
    "serve": ("fmops.cli.serve", "serve a model on localhost with an OpenAI-compatible API"),
    "monitor": ("fmops.cli.monitor", "evaluate a served endpoint and record drift"),
    "bench": ("fmops.cli.bench", "benchmarks: serving load test, pretraining throughput"),
    "registry": ("fmops.cli.registry", "publish model versions and move latest/production"),
    "launch": ("fmops.cli.launch", "run a stage on one process or under accelerate/torchrun"),
    "collect": ("fmops.cli.collect", "check a stage output is complete; copy its small results for Argo"),
    "plan": ("fmops.cli.plan", "work out each phase's model and output URIs for a pipeline run"),
    "shards": ("fmops.cli.shards", "list data shards new since the watermark; commit the watermark"),
    "allreduce": ("fmops.cli.allreduce", "measure all-reduce bus bandwidth across a torchrun job"),
    "notify": ("fmops.cli.notify", "record a workflow's final status; post it to a webhook if configured"),
}


def _importable(module_name: str) -> bool:
    try:
        return importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        return False


def available_commands() -> dict[str, tuple[str, str]]:
    """Commands whose module is present in this installation."""
    return {name: entry for name, entry in COMMANDS.items() if _importable(entry[0])}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen command's module is imported (the others cost nothing to list)."""
    parser = argparse.ArgumentParser(prog="fmops", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"fmops {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in available_commands().items():
        if name != command:
            sub.add_parser(name, help=help_text)
            continue
        module = importlib.import_module(module_name)
        parser_for_command = sub.add_parser(
            name, help=help_text, description=module.__doc__ or help_text,
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )  # fmt: skip
        module.add_arguments(parser_for_command)
        parser_for_command.set_defaults(_module=module)
    return parser


def chosen_command(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(chosen_command(argv)).parse_args(argv)
    try:
        return int(args._module.run(args) or 0)
    except InputError as error:
        print(f"fmops {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fmops {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
