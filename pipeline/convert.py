"""``python -m pipeline convert`` (and ``make convert``): the four stage commands as child
processes, one after the other, each in its own process as if run by hand.

Each process is started ahead of its turn with ``--when-told``: it imports its stage
(TensorFlow, torch and onnx2torch, onnxruntime: seconds each) while the stages before it
run, then waits for one line on its standard input: ``go`` runs the stage, anything else
(or the end of the input, should ``convert`` die) ends it without running; after a failed
stage, ``convert`` kills the ones still waiting, which have touched no file. The stages
still run strictly in order and talk only through their files.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from pipeline import artifacts

GO = "go"


def steps(model: str, out_dir: Path, export_flags=(), passes_flags=()) -> list[list[str]]:
    """Each stage's command line (after ``python -m pipeline``), in order."""
    return [
        ["export", model, str(out_dir), *export_flags],
        ["passes", str(out_dir / artifacts.STAGE1), str(out_dir / artifacts.STAGE2), *passes_flags],
        ["torch", str(out_dir / artifacts.STAGE2), str(out_dir)],
        ["check", str(out_dir)],
    ]


def convert(
    model: str, out_dir: Path, export_flags: list[str] = (), passes_flags: list[str] = ()
) -> int:
    """Run the stages in order; the first that fails stops the chain (its exit code)."""
    commands = steps(model, out_dir, export_flags, passes_flags)
    waiting = [_start(command) for command in commands]
    try:
        for command, proc in zip(commands, waiting, strict=True):
            code = _release(proc)
            if code:
                print(
                    f"convert: stage '{command[0]}' failed (exit {code}); stopped.", file=sys.stderr
                )
                return code
        return 0
    finally:
        for proc in waiting:  # the stages after a failure, still importing or waiting: they
            if proc.poll() is None:  # have touched no file, so they are stopped at once
                proc.kill()
                proc.wait()


def _start(command: list[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "pipeline", *command, "--when-told"],
        stdin=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )


def _release(proc: subprocess.Popen) -> int:
    """Tell a waiting stage to run and wait for its exit code."""
    try:
        proc.stdin.write(GO + "\n")
        proc.stdin.close()
    except BrokenPipeError:  # it ended while importing (an import error, printed by it)
        pass
    return proc.wait()


def told_to_run() -> bool:
    """In a stage started with ``--when-told``, after its imports: wait for ``convert``."""
    return sys.stdin.readline().strip() == GO
