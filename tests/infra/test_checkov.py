"""checkov over terraform/, argocd/ and images/: zero failed checks, resources actually scanned, and every
skip justified inline in the file it concerns (`#checkov:skip=ID:reason`), never on the command line."""

from __future__ import annotations

import re

import pytest

from tests.infra.conftest import CHECKOV_DIRS, ROOT

SKIP_COMMENT = re.compile(r"checkov:skip=([A-Z0-9_]+)(:?)(.*)")


@pytest.mark.parametrize("directory", sorted(CHECKOV_DIRS))
def test_no_failed_checks(checkov_reports, directory):
    failed = [
        f"{check['check_id']} {check['check_name']} ({directory}{check['file_path']}: {check['resource']})"
        for report in checkov_reports[directory]
        for check in report.get("results", {}).get("failed_checks", [])
    ]
    assert failed == [], "checkov failed checks:\n" + "\n".join(failed)


@pytest.mark.parametrize("directory", sorted(CHECKOV_DIRS))
def test_resources_were_scanned(checkov_reports, directory):
    framework = CHECKOV_DIRS[directory]
    summaries = {report["check_type"]: report["summary"] for report in checkov_reports[directory]}
    assert framework in summaries, f"checkov found no {framework} files in {directory}/: {sorted(summaries)}"
    assert summaries[framework]["resource_count"] > 0
    assert summaries[framework]["passed"] > 0
    assert all(summary["parsing_errors"] == 0 for summary in summaries.values()), summaries


@pytest.mark.parametrize("directory", sorted(CHECKOV_DIRS))
def test_skips_are_justified(checkov_reports, directory):
    skipped = [
        check for report in checkov_reports[directory] for check in report.get("results", {}).get("skipped_checks", [])
    ]
    unjustified = [
        f"{check['check_id']} in {directory}{check['file_path']}"
        for check in skipped
        if len(check["check_result"].get("suppress_comment", "").strip()) < 15
    ]
    assert unjustified == []


def test_every_inline_skip_names_a_reason():
    """The same rule read from the files: `checkov:skip=ID:reason`, with a sentence as the reason."""
    bad = []
    for directory in CHECKOV_DIRS:
        for path in (ROOT / directory).rglob("*"):
            if not path.is_file() or ".terraform" in path.parts:
                continue
            for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                match = SKIP_COMMENT.search(line)
                if match and (not match.group(2) or len(match.group(3).strip()) < 15):
                    bad.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert bad == []


def test_no_checkov_config_disables_checks():
    """Skips live next to what they concern; a config file or CLI flag could silence a whole check."""
    names = (".checkov.yaml", ".checkov.yml")
    configs = [ROOT / name for name in names if (ROOT / name).exists()]
    configs += [path for directory in CHECKOV_DIRS for name in names for path in (ROOT / directory).rglob(name)]
    assert configs == []
