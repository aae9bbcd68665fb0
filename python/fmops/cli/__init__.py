"""The `fmops` command. Thin: parse, call the one function that does the work, map errors to exit codes.

Exit status: 0 success, 2 bad input (one line on stderr, no traceback), 1 anything else.
`fmops X` is parsed in `fmops.cli.<package>`, the module named after the package that does X's work
(`fmops pretrain`: fmops.cli.training -> fmops.training.pretrain.pretrain). Modules are imported lazily, so
`fmops validate` never pays for torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from fmops import __version__
from fmops.core.errors import InputError

DESCRIPTION = "Foundation model operations: pretrain, finetune, evaluate and deploy, on Argo Workflows or locally."

# name -> (command module, one-line help). The order is the order `fmops --help` shows.
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("fmops.cli.argo", "run a committed WorkflowTemplate locally, end to end"),
    "render": ("fmops.cli.argo", "write workflows/*.yaml from the Hera definitions"),
    "validate": ("fmops.cli.argo", "check rendered workflows: structure, contracts, policy"),
    "demo": ("fmops.cli.data", "write the demo datasets (two-digit addition)"),
    "curate": ("fmops.cli.curate", "deduplicate, filter, redact and decontaminate text shards (datatrove)"),
    "tokenize": ("fmops.cli.training", "tokenize text into binary token shards for pretraining"),
    "pretrain": ("fmops.cli.training", "continue pretraining a causal LM"),
    "sft": ("fmops.cli.finetune", "instruction-tune a model with TRL's SFTTrainer"),
    "dpo": ("fmops.cli.finetune", "align a model with TRL's DPOTrainer"),
    "evaluate": ("fmops.cli.evaluation", "evaluate a model or endpoint with lm-evaluation-harness"),
    "gate": ("fmops.cli.evaluation", "decide whether a candidate model may be promoted"),
    "deploy": ("fmops.cli.serving", "roll out a model behind vLLM (or locally) and smoke-test it"),
    "serve": ("fmops.cli.serving", "serve a model on localhost with an OpenAI-compatible API"),
    "monitor": ("fmops.cli.serving", "evaluate a served endpoint and record drift"),
    "key-gate": ("fmops.cli.serving", "the API-key proxy in front of vLLM in a serving pod"),
    "bench": ("fmops.cli.bench", "benchmarks: serving load test, pretraining throughput"),
    "registry": ("fmops.cli.core", "publish model versions and move latest/production"),
    "launch": ("fmops.cli.steps", "run a stage on one process or under accelerate/torchrun"),
    "collect": ("fmops.cli.steps", "check a stage output is complete; copy its small results for Argo"),
    "plan": ("fmops.cli.steps", "work out each phase's model and output URIs for a pipeline run"),
    "shards": ("fmops.cli.steps", "list data shards new since the watermark; commit the watermark"),
    "allreduce": ("fmops.cli.steps", "measure all-reduce bus bandwidth across a torchrun job"),
    "notify": ("fmops.cli.steps", "record a workflow's final status; post it to a webhook if configured"),
    "trainjob-failure": ("fmops.cli.steps", "say why a run's TrainJob failed (its Failed condition), exit 1"),
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser; only the chosen command's module is imported (the others cost nothing to list)."""
    parser = argparse.ArgumentParser(prog="fmops", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"fmops {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        if name != command:
            sub.add_parser(name, help=help_text)
            continue
        chosen = importlib.import_module(module_name).COMMANDS[name]
        formatter = argparse.RawDescriptionHelpFormatter
        command_parser = sub.add_parser(name, help=help_text, description=chosen.description, formatter_class=formatter)
        chosen.add_arguments(command_parser)
        command_parser.set_defaults(_run=chosen.run)
    return parser


def chosen_command(argv: list[str]) -> str | None:
    return next((arg for arg in argv if not arg.startswith("-")), None)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(chosen_command(argv)).parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except InputError as error:
        print(f"fmops {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"fmops {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
