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

import subprocess
import sys
import threading
from pathlib import Path

from pipeline import artifacts, malloc, progress

GO = "go"
JOIN_S = 10  # s to wait for a stage's last lines of standard error after it ended


def steps(model: str, out_dir: Path, export_flags=(), passes_flags=()) -> list[list[str]]:
    """Each stage's command line (after ``python -m pipeline``), in order."""
    return [
        ["export", model, str(out_dir), *export_flags],
        ["passes", str(out_dir / artifacts.STAGE1), str(out_dir / artifacts.STAGE2), *passes_flags],
        ["torch", str(out_dir / artifacts.STAGE2), str(out_dir)],
        ["check", str(out_dir)],
    ]


def convert(
    model: str,
    out_dir: Path,
    export_flags: list[str] = (),
    passes_flags: list[str] = (),
    said: list[str] = (),
) -> int:
    """Run the stages in order; the first that fails stops the chain (its exit code).
    ``said``: ``-q`` or ``-v``, for each stage (``pipeline.progress``)."""
    commands = steps(model, out_dir, export_flags, passes_flags)
    waiting = [_start(command, said) for command in commands]
    try:
        for command, (proc, errors) in zip(commands, waiting, strict=True):
            code = _release(proc)
            errors.join(JOIN_S)  # its last lines before the next stage's, or our own
            if code:
                print(
                    f"convert: stage '{command[0]}' failed (exit {code}); stopped.", file=sys.stderr
                )
                return code
        return 0
    finally:
        for proc, errors in waiting:  # the stages after a failure, still importing or
            if proc.poll() is None:  # waiting: they have touched no file, so they are
                proc.kill()  # stopped at once
                proc.wait()
            errors.join(JOIN_S)


def _start(command: list[str], said: list[str]) -> tuple[subprocess.Popen, threading.Thread]:
    """A stage's process, and the thread that passes its standard error on, less
    TensorFlow's start-up lines (``progress.pass_on``)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipeline", *said, *command, "--when-told"],
        stdin=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=malloc.environment(),
    )
    verbose = "-v" in said
    errors = threading.Thread(target=progress.pass_on, args=(proc.stderr, sys.stderr, verbose))
    errors.start()
    return proc, errors


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
