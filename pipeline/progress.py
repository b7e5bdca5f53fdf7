"""What a command says while it works, and how much: where a long conversion is, without
flooding the log.

- Each stage says its steps on standard error, one line each, with the seconds since the
  stage started: ``[export 9.8 s] tf2onnx: converting and optimizing the graph``. A step is
  something that can take seconds on a big net (tf2onnx, the reference outputs, each
  comparison, torch.export); the passes say only those that changed the graph.
- ``-q`` says nothing but warnings and errors: no steps, no table (report.json and
  report.html hold the result, the exit code says it). ``-v`` says everything, TensorFlow's
  own start-up lines too.
- ``convert`` runs each stage in a child process and hides TensorFlow's native start-up
  lines (``NATIVE_NOISE``: oneDNN and CUDA notices on a machine without a GPU); any other
  line is passed on as it comes. The single-stage commands show them as TensorFlow prints
  them (they come from C++, before any Python code could filter them).

Called as a library (no command configured it), ``step`` says nothing.
"""

from __future__ import annotations

import logging
import re
import sys
import time

log = logging.getLogger("pipeline.progress")
_state = {"stage": "", "start": time.perf_counter(), "quiet": False}

# Whole lines TensorFlow's C++ side prints at start-up and on a machine without CUDA
NATIVE_NOISE = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\] .*"  # absl's INFO and WARNING lines
    r"|E\d{4} [\d:.]+ +\d+ (cuda_platform|cuda_executor|cuda_diagnostics)\.cc:\d+\] .*"
    r"|E\d{4} [\d:.]+ +\d+ node_def_util\.cc:\d+\] NodeDef mentions attribute .*"
)
# third-party loggers that speak at INFO: their lines only with -v
CHATTY = ("onnx_ir", "tf2onnx", "onnxscript")


class _Step(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        seconds = time.perf_counter() - _state["start"]
        return f"[{_state['stage']} {seconds:.1f} s] {record.getMessage()}"


def configure(stage: str, verbose: bool = False, quiet: bool = False) -> None:
    """Logging for a command: ``stage``'s steps, the rest of our logging at INFO (DEBUG with
    ``verbose``), only warnings with ``quiet``."""
    _state.update(stage=stage, start=time.perf_counter(), quiet=quiet)
    level = logging.WARNING if quiet else logging.DEBUG if verbose else logging.INFO
    logging.basicConfig(
        level=level, format="  %(name)s: %(message)s", stream=sys.stderr, force=True
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Step())
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.WARNING if quiet else logging.INFO)
    for name in CHATTY:
        logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)


def restart() -> None:
    """Start the stage's clock again (after its imports)."""
    _state["start"] = time.perf_counter()


def quiet() -> bool:
    return _state["quiet"]


def step(what: str, *args) -> None:
    """Say that the stage now does ``what`` (%-style ``args``, as logging takes them)."""
    log.info(what, *args)


def flags(verbose: bool, quiet: bool) -> list[str]:
    """The command-line flags that give a child command the same verbosity."""
    return ["-v"] * verbose + ["-q"] * quiet


def pass_on(stream, out, verbose: bool) -> None:
    """Copy a child's standard error ``stream`` to ``out`` line by line as it comes, less
    ``NATIVE_NOISE`` (unless ``verbose``)."""
    for line in stream:
        if verbose or not NATIVE_NOISE.fullmatch(line.rstrip("\n")):
            out.write(line)
            out.flush()
