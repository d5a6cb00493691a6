"""The image's path without a container engine: the wheel built from exactly what
deploy/Dockerfile copies, installed as the Dockerfile installs it (the lock file, then the
wheel) into a fresh venv, whose `kefu` answers every subcommand's --help and runs intake."""

import argparse
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from kefu.cli import parser
from tests.conftest import isolated_settings
from tests.e2e.processes import start_service

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).parents[2]
DOCKERFILE = ROOT / "deploy" / "Dockerfile"


def build_stage_copies() -> list[str]:
    """The sources of every `COPY` of the build stage, as the Dockerfile names them."""
    build_stage = DOCKERFILE.read_text(encoding="utf-8").split("\nFROM ")[1]
    sources: list[str] = []
    for line in build_stage.splitlines():
        if line.startswith("COPY ") and "--from" not in line:
            sources += line.split()[1:-1]
    return sources


HELP_OF_EACH = """
import contextlib, io, json, sys
from kefu.cli import main
answers = []
for path in json.loads(sys.argv[1]):
    text = io.StringIO()
    with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
        try:
            code = main([*path, "--help"])
        except SystemExit as exit:
            code = exit.code
    answers.append((code, text.getvalue()))
print(json.dumps(answers))
"""


def subcommands(command: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple]:
    """Every command line `kefu …` has, down to the last subcommand."""
    found = [path]
    for action in command._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += subcommands(sub, (*path, name))
    return found


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with kefu installed the Dockerfile's way; its `bin/`."""
    work = tmp_path_factory.mktemp("image")
    context = work / "context"
    for source in build_stage_copies():
        copy = shutil.copytree if (ROOT / source).is_dir() else shutil.copy
        (context / source).parent.mkdir(parents=True, exist_ok=True)
        copy(ROOT / source, context / source)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    subprocess.run([*pip, "wheel", "--no-deps", "-w", work / "dist", context], check=True)
    (wheel,) = (work / "dist").glob("kefu-*.whl")
    subprocess.run([sys.executable, "-m", "venv", work / "venv"], check=True)
    bin_dir = work / "venv" / "bin"
    lock = next(context.rglob("*.lock"))
    pip_of_venv = [bin_dir / "python", "-m", "pip", "--disable-pip-version-check", "--quiet"]
    install = [*pip_of_venv, "install", "--no-compile"]  # bytecode: the image's, not the test's
    subprocess.run([*install, "--require-hashes", "-r", lock], check=True)
    subprocess.run([*install, "--no-deps", wheel], check=True)
    return bin_dir


def test_the_wheel_holds_one_top_level_name_kefu(installed) -> None:
    (wheel,) = (installed.parents[1] / "dist").glob("kefu-*.whl")
    names = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert {name for name in names if not name.endswith(".dist-info")} == {"kefu"}
    shipped = {n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".py")}
    for tree, package in (
        ("kefu", "kefu"),
        ("services", "kefu/services"),
        ("shared", "kefu/shared"),
    ):
        for source in (ROOT / tree).rglob("*.py"):
            assert f"{package}/{source.relative_to(ROOT / tree)}" in shipped, source
    workspace = ROOT / "services" / "workspace"
    pages = [*workspace.glob("templates/*.html"), *workspace.glob("static/*")]
    listed = set(zipfile.ZipFile(wheel).namelist())
    assert pages, "the desk's templates and static files"
    for page in pages:  # the desk's pages: templates, stylesheet and script
        assert f"kefu/services/{page.relative_to(ROOT / 'services')}" in listed, page


def test_every_subcommand_answers_help_from_the_installed_wheel(installed, tmp_path) -> None:
    version = subprocess.run(
        [installed / "kefu", "--version"], capture_output=True, text=True, check=True
    )
    assert re.fullmatch(r"kefu \d+\.\d+\.\d+\n", version.stdout)
    paths = [list(path) for path in subcommands(parser())]
    answers = subprocess.run(  # one interpreter for all: a start costs 2 s on a busy machine
        [installed / "python", "-c", HELP_OF_EACH, json.dumps(paths)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=True,
    )
    for path, (code, text) in zip(paths, json.loads(answers.stdout), strict=True):
        assert code == 0 and "usage: kefu" in text, (path, text)


async def test_the_installed_kefu_runs_intake_until_ready(installed, backend, tmp_path) -> None:
    settings = isolated_settings(backend)
    intake = start_service("intake", settings, tmp_path, kefu=[str(installed / "kefu")])
    intake.popen.terminate()
    assert intake.popen.wait(20) == 0, intake.log.read_text()
