#!/usr/bin/env python3
"""Pin what cannot be looked up offline: base and tool images to digests, GitHub Actions to commit SHAs,
the EFA installer to its sha256, and the Terraform providers to a lock file.

    python3 .ci/pin.py            # check: one line per unpinned reference, exit 1 if there is any
    python3 .ci/pin.py --write    # resolve each over the network, rewrite the files in place; then
                                  # `fmops render` (image constants live in the Hera code) and commit

Resolving needs the network (a registry per image, github.com, efa-installer.amazonaws.com, the Terraform
registry) and `git`, `terraform` and `gpg` on PATH: run it on a workstation or in CI, never in the offline
test suite, which only imports `findings` and `rewrite` with fake resolvers. Standard library only, so it
runs before anything is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DIGEST = re.compile(r"@sha256:[0-9a-f]{64}$")
FROM = re.compile(r"^(FROM\s+)(\S+)(.*)$", re.M)
# Image constants of the Hera code and the deploy step, e.g. CUDA_IMAGE = "nvcr.io/nvidia/cuda:12.8.1-base".
CONSTANT = re.compile(r'^([A-Z_]*IMAGE\s*=\s*")([^"]+)(")', re.M)
CONSTANT_FILES = ("python/fmops/argo/templates/*.py", "python/fmops/serving/*.py")
# This project's own images: kustomize replaces them with the fork's ECR repositories, whose tags are immutable.
OWN_IMAGES = "ghcr.io/fmops/"
USES = re.compile(r"^(\s*-?\s*uses:\s*)([\w.-]+/[\w./-]+)@(\S+)(.*)$", re.M)
SHA_WITH_TAG = re.compile(r"^[0-9a-f]{40}$")
EFA_VERSION = re.compile(r"^ARG EFA_INSTALLER_VERSION=(\S+)$", re.M)
EFA_SHA = re.compile(r"^(ARG EFA_INSTALLER_SHA256=)(\S*)$", re.M)
EFA_URL = "https://efa-installer.amazonaws.com/aws-efa-installer-{version}.tar.gz"
LOCK = "terraform/.terraform.lock.hcl"
PLATFORMS = ("linux_amd64", "linux_arm64", "darwin_amd64", "darwin_arm64")
MANIFEST_TYPES = ", ".join([
    "application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
])  # fmt: skip


@dataclass(frozen=True)
class Finding:
    path: str
    line: int
    reference: str
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.reference}: {self.problem}"


def line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def image_files(root: Path) -> list[Path]:
    return sorted(root.glob("images/*/Dockerfile")) + sorted(p for g in CONSTANT_FILES for p in root.glob(g))


def image_references(root: Path, text: str, path: Path) -> list[tuple[re.Match, str]]:
    """(match, reference) of every external image a Dockerfile or module names."""
    pattern = FROM if path.name == "Dockerfile" else CONSTANT
    stages = set(re.findall(r"^FROM\s+\S+\s+AS\s+(\S+)", text, re.M | re.I))
    found = []
    for match in pattern.finditer(text):
        reference = match.group(2)
        if reference in stages or reference == "scratch" or reference.startswith(OWN_IMAGES) or "$" in reference:
            continue
        found.append((match, reference))
    return found


def findings(root: Path = ROOT) -> list[Finding]:
    """Every reference under `root` that is not pinned, one Finding each (none: all pinned)."""
    found = []
    for path in image_files(root):
        text, name = path.read_text(), str(path.relative_to(root))
        for match, reference in image_references(root, text, path):
            if not DIGEST.search(reference):
                found.append(Finding(name, line_of(text, match.start()), reference, "image not pinned by digest"))
        version, sha = EFA_VERSION.search(text), EFA_SHA.search(text)
        if version and not (sha and re.fullmatch(r"[0-9a-f]{64}", sha.group(2))):
            found.append(Finding(name, line_of(text, version.start()), f"aws-efa-installer {version.group(1)}",
                                 "no EFA_INSTALLER_SHA256"))  # fmt: skip
    for path in sorted((root / ".github" / "workflows").glob("*.yml")):
        text, name = path.read_text(), str(path.relative_to(root))
        for match in USES.finditer(text):
            action, ref, rest = match.group(2), match.group(3), match.group(4)
            if not (SHA_WITH_TAG.match(ref) and re.search(r"#\s*v?\d", rest)):
                problem = "action not pinned to a commit SHA (with its tag as a comment)"
                found.append(Finding(name, line_of(text, match.start()), f"{action}@{ref}", problem))
    lock, versions = root / LOCK, (root / "terraform" / "versions.tf").read_text()
    providers = set(re.findall(r'^\s*source\s*=\s*"([\w-]+/[\w-]+)"', versions, re.M))
    locked = set(re.findall(r'^provider "registry\.terraform\.io/([\w-]+/[\w-]+)"', lock.read_text(), re.M)
                 if lock.exists() else [])  # fmt: skip
    for provider in sorted(providers - locked):
        found.append(Finding(LOCK, 0, provider, "provider not in the lock file (terraform providers lock)"))
    return found


def rewrite(
    root: Path,
    image_digest: Callable[[str], str],
    action_sha: Callable[[str, str], str],
    efa_sha256: Callable[[str], str],
) -> list[str]:
    """Pin every unpinned image, action and EFA installer under `root` with the resolvers given; returns
    one line per change. The resolvers are the network; tests pass fakes."""
    changes = []
    for path in image_files(root):
        text = original = path.read_text()
        for match, reference in reversed(image_references(root, text, path)):
            if not DIGEST.search(reference):
                pinned = f"{reference}@{image_digest(reference)}"
                text = text[: match.start(2)] + pinned + text[match.end(2) :]
                changes.append(f"{path.relative_to(root)}: {pinned}")
        version, sha = EFA_VERSION.search(text), EFA_SHA.search(text)
        if version and sha and not sha.group(2):
            value = efa_sha256(version.group(1))
            text = text[: sha.start(2)] + value + text[sha.end(2) :]
            changes.append(f"{path.relative_to(root)}: EFA_INSTALLER_SHA256={value}")
        if text != original:
            path.write_text(text)
    for path in sorted((root / ".github" / "workflows").glob("*.yml")):
        text = path.read_text()
        for match in reversed(list(USES.finditer(text))):
            prefix, action, ref, rest = match.groups()
            if not SHA_WITH_TAG.match(ref):
                sha = action_sha(action, ref)
                text = text[: match.start()] + f"{prefix}{action}@{sha} # {ref}{rest}" + text[match.end() :]
                changes.append(f"{path.relative_to(root)}: {action}@{sha} # {ref}")
        path.write_text(text)
    return changes


# ---- the network ------------------------------------------------------------------------------------------


def registry_digest(reference: str) -> str:
    """The manifest (or index) digest a registry serves for `reference`, via the registry HTTP API with an
    anonymous bearer token (Docker Hub, nvcr.io, ghcr.io and public.ecr.aws all grant one for pulls)."""
    name, _, tag = reference.rpartition(":")
    host, _, repository = name.partition("/")
    if "." not in host and ":" not in host:  # Docker Hub short names
        host, repository = "registry-1.docker.io", name if "/" in name else f"library/{name}"
    url = f"https://{host}/v2/{repository}/manifests/{tag}"
    request = urllib.request.Request(url, method="HEAD", headers={"Accept": MANIFEST_TYPES})
    try:
        response = urllib.request.urlopen(request, timeout=30)
    except urllib.error.HTTPError as error:
        if error.code != 401:
            raise
        challenge = dict(re.findall(r'(\w+)="([^"]*)"', error.headers["WWW-Authenticate"]))
        token_url = f"{challenge['realm']}?service={challenge.get('service', '')}&scope=repository:{repository}:pull"
        token = json.load(urllib.request.urlopen(token_url, timeout=30))
        request.add_header("Authorization", f"Bearer {token.get('token') or token['access_token']}")
        response = urllib.request.urlopen(request, timeout=30)
    return response.headers["Docker-Content-Digest"]


def github_sha(action: str, tag: str) -> str:
    """The commit a tag of an action's repository points at (the peeled commit of an annotated tag)."""
    repository = "/".join(action.split("/")[:2])
    output = subprocess.run(["git", "ls-remote", "--tags", f"https://github.com/{repository}", f"refs/tags/{tag}",
                             f"refs/tags/{tag}^{{}}"], capture_output=True, text=True, check=True).stdout  # fmt: skip
    refs = dict(reversed(line.split("\t")) for line in output.splitlines())
    sha = refs.get(f"refs/tags/{tag}^{{}}") or refs.get(f"refs/tags/{tag}")
    if not sha:
        raise SystemExit(f"{action}: no tag {tag} on github.com/{repository}")
    return sha


def efa_installer_sha256(version: str) -> str:
    """Download the installer, check AWS's GPG signature of it, and return its sha256."""
    url = EFA_URL.format(version=version)
    with tempfile.TemporaryDirectory() as tmp:
        tarball, signature, key = Path(tmp, "efa.tar.gz"), Path(tmp, "efa.tar.gz.sig"), Path(tmp, "efa.key")
        for target, source in ((tarball, url), (signature, f"{url}.sig"),
                               (key, "https://efa-installer.amazonaws.com/aws-efa-installer.key")):  # fmt: skip
            urllib.request.urlretrieve(source, target)
        gpg = ["gpg", "--homedir", tmp, "--batch", "--quiet"]
        subprocess.run([*gpg, "--import", str(key)], check=True)
        subprocess.run([*gpg, "--verify", str(signature), str(tarball)], check=True)
        return hashlib.sha256(tarball.read_bytes()).hexdigest()


def lock_providers(root: Path) -> None:
    terraform = ["terraform", f"-chdir={root / 'terraform'}"]
    subprocess.run([*terraform, "init", "-backend=false", "-input=false"], check=True)
    subprocess.run([*terraform, "providers", "lock", *(f"-platform={p}" for p in PLATFORMS)], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="resolve over the network and rewrite the files")
    parser.add_argument("--no-lock", action="store_true", help="with --write: leave the Terraform lock file alone")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.write:
        for change in rewrite(args.root, registry_digest, github_sha, efa_installer_sha256):
            print(change)
        if not args.no_lock:
            lock_providers(args.root)
    problems = [p for p in findings(args.root) if not (args.no_lock and p.path == LOCK)]
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} unpinned reference(s): run python3 .ci/pin.py --write where the network is",
              file=sys.stderr)  # fmt: skip
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
