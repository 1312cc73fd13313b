"""finetune as a Python package: pyproject.toml says what requirements*.txt say, and the installed `finetune` command is
`python -m finetune`."""
import importlib.metadata
import json
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest
from conftest import REPO

import finetune

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def requirement_lines(name: str) -> list[str]:
    """A requirements file's requirements, comments, blank lines and `-r` includes left out."""
    lines = [line.strip() for line in (REPO / name).read_text().splitlines()]
    return [line for line in lines if line and not line.startswith(("#", "-r"))]


def test_the_package_takes_its_dependencies_from_requirements_txt_and_its_version_from_the_code():
    project, dynamic = PYPROJECT["project"], PYPROJECT["tool"]["setuptools"]["dynamic"]
    assert project["name"] == "finetune" and project["requires-python"] == ">=3.11"
    assert dynamic["dependencies"] == {"file": ["requirements.txt"]}
    assert dynamic["version"] == {"attr": "finetune.__version__"}
    assert project["optional-dependencies"]["dev"] == requirement_lines("requirements-dev.txt")
    assert "-r requirements.txt" in (REPO / "requirements-dev.txt").read_text().splitlines()
    assert project["scripts"] == {"finetune": "finetune.cli:main"}


def installed_script() -> Path:
    """The `finetune` command of an editable install of this checkout; the test is skipped, saying why, without one."""
    try:
        dist = importlib.metadata.distribution("finetune")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("finetune is not installed: pip install -e . (as .ci/run does) gives the finetune command")
    origin = json.loads(dist.read_text("direct_url.json") or "{}")
    if Path(origin.get("url", "").removeprefix("file://")).resolve() != REPO:
        pytest.skip(f"the installed finetune is not this checkout's editable install ({origin.get('url', 'a wheel')})")
    script = Path(sysconfig.get_path("scripts")) / "finetune"
    if not script.is_file():
        script = Path(shutil.which("finetune") or script)
    if not script.is_file():
        pytest.skip(f"finetune is installed but its command is not in {script.parent} nor on PATH")
    return script


def test_the_finetune_command_is_python_dash_m_finetune_exit_codes_included(tmp_path):
    script = installed_script()

    def both(*args):
        return [subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False)
                for command in ([str(script), *args], [sys.executable, "-m", "finetune", *args])]

    command, module = both("--help")
    assert command.returncode == module.returncode == 0 and command.stdout == module.stdout
    assert "train" in command.stdout and finetune.__version__ == importlib.metadata.version("finetune")
    command, module = both("data", "--data", "sample")  # away from the repository: the sample is found all the same
    assert command.returncode == 0 and json.loads(command.stdout) == json.loads(module.stdout)
    command, module = both("train", "--epochs", "0")
    assert command.returncode == module.returncode == 2
    assert command.stderr == module.stderr == "error: epochs must be > 0, got 0.0\n"
