#!/usr/bin/env bash
# Lock the images' Python dependencies: resolve them against PyPI for the images' interpreter and platform
# (Ubuntu 24.04: CPython 3.12, glibc 2.39, x86_64) and write every transitive dependency pinned to one
# version with its sha256 hashes, which the Dockerfiles install with --require-hashes.
#
#   images/torch.lock               torch (images/constraints.txt) and setuptools (images/build.in): the
#                                   first layer of both images
#   images/train/requirements.lock  pyproject.toml's [train,deepspeed,liger,curate] extras
#   images/eval/requirements.lock   pyproject.toml's [eval,serve] extras
#
# Both image locks are resolved within torch.lock, so the two layers agree. Run from anywhere:
#   images/lock.sh                       # after editing pyproject.toml, constraints.txt or build.in; the
#                                        # pins that still satisfy them stay as they are
#   images/lock.sh --upgrade             # every package to its newest release the inputs allow
#   images/lock.sh --upgrade-package X   # only X (and what it needs)
# Needs uv (the files were written by uv 0.13.9, the version CI installs: pip install uv==0.13.9) and PyPI.
# CI's image-locks job runs it and fails when the files change.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v uv >/dev/null || { echo "images/lock.sh needs uv: pip install uv" >&2; exit 2; }

compile() {
  uv pip compile --quiet --no-config --python-version 3.12 --python-platform x86_64-manylinux_2_39 \
    --generate-hashes --index-url https://pypi.org/simple --custom-compile-command images/lock.sh "$@"
}

compile images/constraints.txt images/build.in -o images/torch.lock "${@}"
compile pyproject.toml images/build.in --extra train --extra deepspeed --extra liger --extra curate -c images/torch.lock \
  -o images/train/requirements.lock "${@}"
compile pyproject.toml images/build.in --extra eval --extra serve -c images/torch.lock \
  -o images/eval/requirements.lock "${@}"
