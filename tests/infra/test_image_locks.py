"""The images' Python dependencies are locked (images/lock.sh writes the files): every package of each lock
pinned to one version with sha256 hashes, torch at the version CI tests, the image locks in step with the
torch layer and still satisfying pyproject.toml's extras, and each Dockerfile installing only through its
locks with hash checking and without build isolation (so no unchecked build tool is downloaded)."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.markers import default_environment
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.infra.ci_files import steps
from tests.infra.conftest import IMAGES, ROOT

LOCK_SCRIPT = IMAGES / "lock.sh"
TORCH_LOCK = IMAGES / "torch.lock"
IMAGE_NAMES = sorted(path.parent.name for path in IMAGES.glob("*/Dockerfile"))
# The images' interpreter and platform, as lock.sh resolves for them (Ubuntu 24.04, CPython 3.12, x86_64).
IMAGE_ENVIRONMENT = {
    **default_environment(),
    "python_version": "3.12",
    "python_full_version": "3.12.3",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)$")
HASH = re.compile(r"^--hash=sha256:[0-9a-f]{64}$")


def lock_problems(text: str) -> tuple[dict[str, str], list[str]]:
    """(package -> pinned version, problems) of a hashed requirements file; a problem is any entry that is
    not `name==version` followed by sha256 hashes only."""
    pins, problems = {}, []
    for entry in text.replace("\\\n", " ").splitlines():
        tokens = entry.split("#", 1)[0].split()
        if not tokens:
            continue
        match = PIN.match(tokens[0])
        hashes = [token for token in tokens[1:] if HASH.match(token)]
        if not match or not hashes or len(hashes) != len(tokens) - 1:
            problems.append(entry.strip()[:120])
            continue
        pins[canonicalize_name(match.group(1))] = match.group(2)
    return pins, problems


def locked(path) -> dict[str, str]:
    pins, problems = lock_problems(path.read_text())
    assert problems == [], f"{path.relative_to(ROOT)}: not pinned with hashes: {problems}"
    return pins


def script_extras() -> dict[str, list[str]]:
    """image -> the pyproject extras lock.sh resolves its requirements.lock from."""
    commands = LOCK_SCRIPT.read_text().replace("\\\n", " ").splitlines()
    extras = {}
    for command in commands:
        output = re.search(r"-o images/(\w+)/requirements\.lock", command)
        if output and command.lstrip().startswith("compile "):
            extras[output.group(1)] = re.findall(r"--extra (\w+)", command)
    return extras


def wanted(extras: list[str]) -> list[Requirement]:
    """The direct requirements of this package with `extras`, self-references (fmops[train]) expanded."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found, pending, seen = [Requirement(r) for r in project["dependencies"]], list(extras), set()
    while pending:
        extra = pending.pop()
        if extra in seen:
            continue
        seen.add(extra)
        for requirement in map(Requirement, project["optional-dependencies"][extra]):
            if canonicalize_name(requirement.name) == canonicalize_name(project["name"]):
                pending.extend(requirement.extras)
            else:
                found.append(requirement)
    return [r for r in found if r.marker is None or r.marker.evaluate(IMAGE_ENVIRONMENT)]


def unmet(requirements: list[Requirement], pins: dict[str, str]) -> list[str]:
    missing = []
    for requirement in requirements:
        version = pins.get(canonicalize_name(requirement.name))
        if version is None or not requirement.specifier.contains(version, prereleases=True):
            missing.append(f"{requirement} (locked: {version})")
    return missing


def test_the_script_locks_every_image():
    assert sorted(script_extras()) == IMAGE_NAMES
    assert all(script_extras().values())


@pytest.mark.parametrize(
    "lock",
    [TORCH_LOCK] + [IMAGES / name / "requirements.lock" for name in IMAGE_NAMES],
    ids=lambda path: str(path.relative_to(IMAGES)),
)
def test_every_package_is_pinned_with_hashes(lock):
    pins = locked(lock)
    assert len(pins) > 10
    assert "images/lock.sh" in lock.read_text().split("\n", 3)[1], "regenerate with images/lock.sh"


def test_the_lock_check_can_fail():
    pins, problems = lock_problems(
        "torch==2.13.0 \\\n    --hash=sha256:" + "a" * 64 + "\n    # via -r images/constraints.txt\n"
        "numpy>=2 \\\n    --hash=sha256:" + "b" * 64 + "\n"
        "requests==2.32.0\n"
        "-e ./src\n"
    )
    assert pins == {"torch": "2.13.0"}
    assert len(problems) == 3, problems


def test_torch_is_the_version_ci_tests():
    (torch,) = re.findall(r"^torch==(\S+)$", (IMAGES / "constraints.txt").read_text(), re.M)
    assert locked(TORCH_LOCK)["torch"] == torch
    for name in IMAGE_NAMES:
        assert locked(IMAGES / name / "requirements.lock")["torch"] == torch, name


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_the_image_lock_agrees_with_the_torch_layer(image):
    base, pins = locked(TORCH_LOCK), locked(IMAGES / image / "requirements.lock")
    differ = {name: (version, pins.get(name)) for name, version in base.items() if pins.get(name) != version}
    assert differ == {}, "resolve the image locks within torch.lock: images/lock.sh"


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_the_image_lock_satisfies_pyproject(image):
    requirements = wanted(script_extras()[image])
    assert {"torch", "transformers", "hera"} <= {canonicalize_name(r.name) for r in requirements}
    assert unmet(requirements, locked(IMAGES / image / "requirements.lock")) == [], "run images/lock.sh"
    assert (
        unmet(
            [
                Requirement(line)
                for line in (IMAGES / "build.in").read_text().splitlines()
                if line and not line.startswith("#")
            ],
            locked(TORCH_LOCK),
        )
        == []
    )


def test_the_pyproject_check_can_fail():
    pins = {"torch": "2.13.0", "transformers": "4.57.0"}
    assert unmet([Requirement("torch>=2.6"), Requirement("transformers>=5.0,<6"), Requirement("trl>=1")], pins) == [
        "transformers<6,>=5.0 (locked: 4.57.0)",
        "trl>=1 (locked: None)",
    ]


def pip_installs(dockerfile) -> list[str]:
    return [line.removeprefix("RUN ") for line in dockerfile.read_text().splitlines() if line.startswith("RUN pip ")]


@pytest.mark.parametrize("image", IMAGE_NAMES)
def test_the_dockerfile_installs_only_through_its_locks(image):
    dockerfile = IMAGES / image / "Dockerfile"
    text = dockerfile.read_text()
    assert pip_installs(dockerfile) == [
        "pip install --require-hashes --no-deps -r /src/images/torch.lock",
        f"pip install --require-hashes --no-deps --no-build-isolation -r /src/images/{image}/requirements.lock",
        "pip install --no-deps --no-build-isolation /src && pip check",
    ]
    assert not re.search(r"torch==|TORCH_VERSION|constraints\.txt", text), "the versions live in the locks"
    for lock in ("images/torch.lock", f"images/{image}/requirements.lock"):
        assert text.index(f"COPY {lock} /src/{lock}") < text.index(f"-r /src/{lock}")
        ignore = (IMAGES / image / "Dockerfile.dockerignore").read_text().splitlines()
        assert f"!{lock}" in ignore, "the build context must carry the lock"


def test_ci_fails_when_a_lock_is_out_of_date():
    runs = "\n".join(step.get("run", "") for step in steps("image-locks"))
    assert "images/lock.sh" in runs and "git diff --exit-code -- images/" in runs
