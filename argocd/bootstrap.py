#!/usr/bin/env python3
"""Fill the FMOPS_* placeholders of argocd/ with this account's values, from Terraform outputs.

The YAML in argocd/ is account-neutral: the repository URL, the bucket, the ECR registry, the Karpenter
node role and the like appear as placeholders (FMOPS_BUCKET, FMOPS_ECR_REGISTRY, ...). Terraform's output
`argocd_bootstrap` maps each placeholder to its value; this script writes them into the files, which
you then commit to your fork, so that what Argo CD syncs is exactly what Git holds.

    terraform -chdir=terraform output -json > /tmp/tf-outputs.json
    python3 argocd/bootstrap.py /tmp/tf-outputs.json      # or: terraform ... output -json | ... -
    git diff argocd/ && git commit -am "argocd: values for this account" && git push

Exit status 0 when every placeholder was filled, 2 (one line on stderr) for a missing or unreadable
outputs file or a placeholder without a value. Standard library only: runs before any install.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

PLACEHOLDER = re.compile(r"\bFMOPS_[A-Z][A-Z_]*[A-Z]\b")
OUTPUT = "argocd_bootstrap"


def load_values(source: str) -> dict[str, str]:
    """The placeholder -> value map from `terraform output -json` (a file path, or '-' for stdin)."""
    try:
        text = sys.stdin.read() if source == "-" else Path(source).read_text()
        outputs = json.loads(text)
    except (OSError, json.JSONDecodeError) as error:
        raise ValueError(f"{source}: not readable as `terraform output -json`: {error}") from error
    if not isinstance(outputs, dict) or OUTPUT not in outputs:
        raise ValueError(f"{source}: no output '{OUTPUT}' (run `terraform apply` first)")
    values = outputs[OUTPUT].get("value") if isinstance(outputs[OUTPUT], dict) else None
    if not isinstance(values, dict):
        raise ValueError(f"{source}: output '{OUTPUT}' is not a map")
    return {str(key): str(value) for key, value in values.items()}


def placeholders(directory: Path) -> dict[Path, set[str]]:
    """Every YAML file under `directory` that still holds placeholders, with the placeholders it holds."""
    found = {}
    for path in sorted(directory.rglob("*.yaml")):
        names = set(PLACEHOLDER.findall(path.read_text()))
        if names:
            found[path] = names
    return found


def fill(directory: Path, values: dict[str, str]) -> list[Path]:
    """Replace the placeholders in place; refuse (before writing anything) when one has no value."""
    pending = placeholders(directory)
    missing = sorted(set().union(*pending.values()) - values.keys()) if pending else []
    if missing:
        first = next(path for path, names in pending.items() if missing[0] in names)
        raise ValueError(f"{first}: placeholder {missing[0]} has no value in output '{OUTPUT}'")
    for path in pending:
        text = PLACEHOLDER.sub(lambda match: values[match.group()], path.read_text())
        path.write_text(text)
    return list(pending)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outputs", help="`terraform output -json` saved to a file, or '-' for stdin")
    parser.add_argument("--dir", type=Path, default=Path(__file__).resolve().parent,
                        help="directory to fill (default: this script's, argocd/)")
    args = parser.parse_args(argv)
    try:
        changed = fill(args.dir, load_values(args.outputs))
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    for path in changed:
        print(f"filled {path}")
    print(f"{len(changed)} files filled; review with `git diff`, then commit and push", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
