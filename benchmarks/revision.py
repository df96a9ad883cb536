"""Another version of the exchange, from a git revision, to measure beside this one.

The revision's files are exported (``git archive``) into a folder outside the repository.
Its servers run from there, with this environment's interpreter and the folder first on
``PYTHONPATH``, and its instance (database by its own migrations, agencies, bundles) is
made by its own code, so that a change of schema between the two is measured as it is.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from benchmarks.instance import PROJECT_ROOT, Caller, Instance
from keys.jwk import load_private_jwk

# The project's top-level packages: taken from the revision before the harness's own
# ``benchmarks`` package is put on the path, so that it drives the revision's code.
PACKAGES = ("exchange", "keys", "schemas", "audit")
SETUP_TIMEOUT = 300.0

_SETUP = """
import importlib, json, sys
from pathlib import Path

revision, project, root, url = sys.argv[1:5]
sys.path.insert(0, revision)
for package in {packages!r}:
    importlib.import_module(package)
sys.path.insert(0, project)
from benchmarks.instance import create_instance, populate
from keys.jwk import private_jwk

instance = create_instance(Path(root), url or None)
populate(instance)
print(json.dumps({{
    "database_url": instance.database_url,
    "schema": instance.schema,
    "callers": [
        {{
            "agency": caller.agency,
            "kind": caller.kind,
            "bundle_dir": str(caller.bundle_dir),
            "signing_jwk": private_jwk(caller.signing_key),
        }}
        for caller in instance.callers.values()
    ],
}}))
"""


def export_revision(revision: str, folder: Path) -> Path:
    """The files of ``revision`` in ``folder``, which must not exist yet."""
    folder.mkdir(parents=True)
    archive = folder.with_suffix(".tar")
    subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "archive", "--format=tar", "-o", str(archive), revision],
        check=True,
        capture_output=True,
    )
    try:
        with tarfile.open(archive) as tar:
            tar.extractall(folder, filter="data")
    finally:
        archive.unlink()
    return folder


def describe_revision(revision: str) -> str:
    """The short commit id and subject of a revision, as ``git log`` prints them."""
    completed = subprocess.run(
        ["git", "-C", str(PROJECT_ROOT), "log", "-1", "--format=%h %s", revision],
        check=True,
        capture_output=True,
        text=True,
    )
    return completed.stdout.strip()


def revision_instance(code: Path, root: Path, database_url: str | None) -> Instance:
    """An instance made by the code in ``code``, whose servers run that code."""
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)
    completed = subprocess.run(
        [
            sys.executable,
            "-c",
            _SETUP.format(packages=PACKAGES),
            str(code),
            str(PROJECT_ROOT),
            str(root),
            database_url or "",
        ],
        capture_output=True,
        text=True,
        cwd=str(code),
        env=environment,
        timeout=SETUP_TIMEOUT,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"setting up the instance at {code} failed:\n{completed.stderr}")
    made = json.loads(completed.stdout.strip().splitlines()[-1])
    instance = Instance(root, made["database_url"], made["schema"], code=code)
    for caller in made["callers"]:
        instance.callers[caller["agency"]] = Caller(
            caller["agency"],
            caller["kind"],
            Path(caller["bundle_dir"]),
            load_private_jwk(caller["signing_jwk"]),
        )
    return instance
