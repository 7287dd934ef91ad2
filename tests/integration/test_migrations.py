"""An installed crashflow migrates itself: its Alembic migrations are package data.

The wheel is built from the repository (pip, isolated build) and unpacked apart from it;
that copy, run from a directory without the repository's pyproject.toml, creates a fresh
database and applies every migration on the real Postgres."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from alembic.script import ScriptDirectory
from conftest import REPO, TEST_NAMESPACE

from crashflow.stores import postgres

pytestmark = pytest.mark.integration

SHARED = REPO / "shared"
# Every migration the repository has (each one a file the wheel must carry).
MIGRATION_FILES = {
    str(path.relative_to(SHARED))
    for pattern in ("*.py", "*.mako", "versions/*.py")
    for path in (SHARED / "crashflow" / "stores" / "migrations").glob(pattern)
}

INSTALLED_UPGRADE = """
import crashflow
from alembic.script import ScriptDirectory
from crashflow.settings import Settings
from crashflow.stores import postgres

settings = Settings(namespace={namespace!r})
postgres.upgrade(settings)
print(crashflow.__file__)
print(ScriptDirectory.from_config(postgres.alembic_config(settings)).dir)
"""


@pytest.fixture
def fresh_database(settings):
    own = settings.model_copy(update={"namespace": f"{TEST_NAMESPACE}mig", "pg_database": None})

    def drop():
        admin = postgres.connect(own, database="postgres")
        try:
            admin.run(f"DROP DATABASE IF EXISTS {own.database} WITH (FORCE)")
        finally:
            admin.close()

    drop()
    yield own
    drop()


def package_source(target: Path) -> Path:
    """What the wheel is built from, copied as git sees it (tracked and new files, edits
    included, nothing ignored): setuptools' ``build/`` in the checkout keeps files an
    earlier build copied, so a migration renamed since would ship twice."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", "--",
                             "pyproject.toml", "README.md", "shared"], cwd=REPO, capture_output=True, check=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (REPO / name).is_file():  # a deleted file not committed yet is listed too
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, target / name)
    return target


def test_an_installed_crashflow_migrates_itself(tmp_path, fresh_database):
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", str(tmp_path / "wheel"),
         str(package_source(tmp_path / "source"))],
        capture_output=True, text=True, timeout=600,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "wheel").glob("crashflow-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        assert "crashflow/stores/migrations/versions/0001_reports_and_aggregates.py" in MIGRATION_FILES  # found
        assert MIGRATION_FILES <= set(archive.namelist())
        archive.extractall(site)

    elsewhere = tmp_path / "elsewhere"  # no pyproject.toml, no repository
    elsewhere.mkdir()
    ran = subprocess.run(
        [sys.executable, "-c", INSTALLED_UPGRADE.format(namespace=fresh_database.namespace)],
        cwd=elsewhere,
        env={**{name: value for name, value in os.environ.items() if name.startswith("CRASHFLOW_")},
             "PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"},
        capture_output=True, text=True, timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    package_file, migrations_dir = ran.stdout.split()
    assert package_file.startswith(str(site)) and migrations_dir.startswith(str(site))

    head = ScriptDirectory.from_config(postgres.alembic_config(fresh_database)).get_current_head()
    connection = postgres.connect(fresh_database)
    try:
        assert connection.run("SELECT version_num FROM alembic_version") == [[head]]
        assert connection.run("SELECT to_regclass('reports') IS NOT NULL")[0][0]
    finally:
        connection.close()
