"""What ``/__version__`` answers: Dockerflow's ``source``, ``version``, ``commit`` and ``build``.

A deployment's image build writes them to ``version.json`` (``CRASHFLOW_VERSION_FILE``
names it; infra/container/Dockerfile writes /app/version.json from its build arguments).
A checkout run as it is (``make up``) has no such file: the answer then comes from the
package version and the checkout's git repository.
"""

from __future__ import annotations

import functools
import json
import subprocess
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from crashflow import __version__

FIELDS = ("source", "version", "commit", "build")
CHECKOUT = Path(__file__).resolve().parents[2]


class BadVersionFile(ValueError):
    """version.json is not a JSON object of strings."""


@functools.cache
def version_info(version_file: Path | None = None) -> dict[str, str]:
    """The four Dockerflow fields, all strings (read once per process)."""
    if version_file is not None:
        return read_version_file(Path(version_file))
    return from_checkout(CHECKOUT)


def read_version_file(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise BadVersionFile(f"{path}: {error}") from None
    if not isinstance(data, dict) or not all(isinstance(data.get(name), str) for name in FIELDS):
        raise BadVersionFile(f"{path}: needs the strings {', '.join(FIELDS)}")
    return {name: data[name] for name in FIELDS}


def from_checkout(directory: Path) -> dict[str, str]:
    """The fields for code run from a git checkout (empty commit when it is not one)."""
    commit = _git(directory, "rev-parse", "HEAD")
    remote = _git(directory, "remote", "get-url", "origin")
    return {
        "source": _without_credentials(remote) if remote else directory.as_uri(),
        "version": __version__,
        "commit": commit,
        "build": "",
    }


def _git(directory: Path, *args: str) -> str:
    try:
        answer = subprocess.run(["git", "-C", str(directory), *args], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return answer.stdout.strip() if answer.returncode == 0 else ""


def _without_credentials(url: str) -> str:
    """A remote URL as it may be shown: ``https://user:token@host/x`` -> ``https://host/x``."""
    parts = urlsplit(url)
    if not parts.netloc or "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
