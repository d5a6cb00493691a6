"""The image's inputs: deploy/requirements.lock pins, with hashes, every runtime dependency
of pyproject.toml at a version it allows, none of the extras, for the Python the Dockerfile
builds on; every source the Dockerfile copies exists and the build context (.dockerignore)
keeps it; and the kustomize base deploys the image of this version."""

import fnmatch
import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from kefu import __version__
from tests.deploy.manifests import DEPLOY

ROOT = DEPLOY.parent
LOCK = DEPLOY / "requirements.lock"
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()


def pins() -> dict[str, str]:
    """Name → version of every requirement in the lock, each checked to carry hashes."""
    found = {}
    for block in re.split(r"\n(?=[^\s#])", LOCK.read_text()):
        pinned = re.match(r"([A-Za-z0-9._-]+)==([^\s;\\]+)", block)
        if pinned:
            assert "--hash=sha256:" in block, pinned[1]
            found[canonicalize_name(pinned[1])] = pinned[2]
    return found


def test_the_lock_pins_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    locked = pins()
    for line in project["dependencies"]:
        requirement = Requirement(line)
        version = locked.get(canonicalize_name(requirement.name))
        assert version, f"{requirement.name} is not in {LOCK.name}: regenerate it"
        assert requirement.specifier.contains(version, prereleases=True), (line, version)
    extras = {
        canonicalize_name(Requirement(line).name)
        for lines in project["optional-dependencies"].values()
        for line in lines
    }
    assert not extras & set(locked), "the image needs no extras"
    [python] = re.findall(r"--python-version (\S+)", LOCK.read_text())
    assert re.findall(r"^FROM python:(\S+?)-", DOCKERFILE, re.M) == [python, python]


def test_what_the_dockerfile_copies_exists_and_is_in_the_context() -> None:
    ignored = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    copies = [line.split()[1:-1] for line in DOCKERFILE.splitlines() if line.startswith("COPY ")]
    sources = [source.rstrip("/") for args in copies if "--from" not in args[0] for source in args]
    assert {"kefu", "shared", "services", "adapters", "pyproject.toml", "LICENSE"} <= set(sources)
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not any(fnmatch.fnmatch(source, pattern) for pattern in ignored), source


def test_the_base_deploys_this_version() -> None:
    base = yaml.safe_load((DEPLOY / "k8s" / "base" / "kustomization.yaml").read_text())
    [image] = base["images"]
    assert image["newTag"] == __version__
