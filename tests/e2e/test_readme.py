"""The README's commands, run (tests/readme.py says how its blocks are marked): each block
marked ``run`` succeeds in a scratch directory that holds LeNet4 converted
(``build/lenet4``) and a small Keras model (``my_model.keras``), and each ``excerpt`` is
made of lines of the file it names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.readme import ROOT, blocks

RUN = [b for b in blocks() if b.marker == "run"]
EXCERPTS = [b for b in blocks() if b.marker and b.marker.startswith("excerpt of ")]
SMALL_MODEL = """
import keras
keras.utils.set_random_seed(0)
model = keras.Sequential([keras.Input((12, 12, 3)), keras.layers.Conv2D(4, 3, activation="relu"),
                          keras.layers.Flatten(), keras.layers.Dense(5)])
model.save("my_model.keras")
"""


@pytest.fixture(scope="module")
def scratch(converted, tmp_path_factory) -> Path:
    out, *_ = converted
    where = tmp_path_factory.mktemp("readme")
    shutil.copytree(out, where / "build" / "lenet4")
    subprocess.run([sys.executable, "-c", SMALL_MODEL], cwd=where, check=True, capture_output=True)
    return where


def _env() -> dict:
    """The project's Python and console script first on the PATH, as after `make`."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env["PYTHONPATH"] = str(ROOT)  # `python -m pipeline` from the scratch directory
    return env


@pytest.mark.parametrize("block", RUN, ids=str)
def test_a_readme_command_runs(block, scratch):
    if block.lang == "python":
        command = ["python", "-c", block.body]
    else:
        command = ["bash", "-euo", "pipefail", "-c", block.body]
    proc = subprocess.run(command, cwd=scratch, env=_env(), capture_output=True, text=True)
    assert proc.returncode == 0, f"{block}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("block", EXCERPTS, ids=str)
def test_a_readme_excerpt_is_the_file(block, scratch):
    path = scratch / block.marker.removeprefix("excerpt of ")
    lines = {line.rstrip() for line in path.read_text(encoding="utf-8").splitlines()}
    missing = [line for line in block.body.splitlines() if line.rstrip() not in lines]
    assert missing == [], block


def test_the_readme_marks_commands_to_run():
    assert len(RUN) >= 4 and EXCERPTS  # a README whose markers vanished would test nothing
