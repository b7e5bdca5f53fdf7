"""An exception no stage expected (a bug of ours, not the user's model): one clear line for
the user (which command, which Keras layer it was working on where that can be told, the
exception) and the whole traceback in ``OUT/<command>.traceback.txt``; a distinct exit code.

The Keras layer is read from the traceback itself, innermost frame first: a local that names
one (an ONNX node's ``doc_string``, a Keras layer object, the torch stage's node facts), and
the graph pass that was running."""

from __future__ import annotations

import sys
import tempfile
import traceback
from pathlib import Path

from pipeline import metadata
from pipeline.errors import InternalError


def _layer_of(value: object) -> str | None:
    doc = getattr(value, "doc_string", None)
    if isinstance(doc, str) and (found := metadata.layer_of(doc)):
        return f"Keras layer '{found[0]}' ({found[1]})"
    kind = type(value)
    if kind.__module__.startswith("keras.") and hasattr(value, "trainable"):
        name = getattr(value, "name", None)
        if isinstance(name, str) and hasattr(value, "get_config"):
            return f"Keras layer '{name}' ({kind.__name__})"
    layer = getattr(value, "layer", None)  # the torch stage's NodeInfo: "name (Class)"
    if kind.__name__ == "NodeInfo" and isinstance(layer, str) and " (" in layer:
        name, cls = layer.rsplit(" (", 1)
        return f"Keras layer '{name}' ({cls}"
    return None


def where(exc: BaseException) -> str:
    """' in pass 'x', working on Keras layer 'y' (Conv2D)', as far as the frames tell."""
    try:
        return _where(exc)
    except Exception:  # noqa: BLE001  (a property that raises: the help must not hide the error)
        return ""


def _where(exc: BaseException) -> str:
    frames = [frame for frame, _ in traceback.walk_tb(exc.__traceback__)]
    layer = step = None
    for frame in reversed(frames):  # innermost first
        for value in frame.f_locals.values():
            layer = layer or _layer_of(value)
        node, info = frame.f_locals.get("node"), frame.f_locals.get("info")
        if layer is None and isinstance(info, dict) and hasattr(node, "target"):
            found = info.get(getattr(node, "target", None))
            layer = _layer_of(found) if found is not None else None
        owner = frame.f_locals.get("self")
        name = getattr(owner, "NAME", None)
        step = step or (f"pass '{name}'" if isinstance(name, str) else None)
    parts = [f"in {step}"] if step else []
    parts += [f"working on {layer}"] if layer else []
    return f" ({', '.join(parts)})" if parts else ""


def _write(out_dir: Path, command: str, text: str) -> Path:
    """The traceback file, in OUT if it can be written there, else in the temp directory."""
    for folder in (Path(out_dir), Path(tempfile.gettempdir())):
        path = folder / f"{command}.traceback.txt"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(could not be written)")


def forget(out_dir: Path, command: str) -> None:
    """Remove ``OUT/<command>.traceback.txt`` left by an earlier run that crashed: the run
    starting now writes its own if it crashes too, and must not be blamed for the old one."""
    try:
        (Path(out_dir) / f"{command}.traceback.txt").unlink(missing_ok=True)
    except OSError:  # not ours to remove: the stage's own outputs will say so if it matters
        pass


def report(command: str, exc: BaseException, out_dir: Path) -> int:
    """Print the one line and write the traceback; the exit code."""
    text = "".join(traceback.format_exception(exc))
    path = _write(out_dir, command, text)
    message = str(exc).strip().splitlines()[0] if str(exc).strip() else "(no message)"
    print(
        f"[{command}] internal error: {type(exc).__name__}: {message[:300]}{where(exc)}. "
        f"The full traceback is in {path}. This is a bug in keras2torch, not in your model: "
        "please report it with that file.",
        file=sys.stderr,
    )
    return InternalError.exit_code


def child_failed(what: str, stderr: str, out_dir: Path, name: str) -> InternalError:
    """A child process (a check's torch side, diagnose's sides) that crashed: its output goes
    to ``OUT/<name>.traceback.txt``, the error says its last line and where the rest is."""
    path = _write(out_dir, name, stderr)
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    last = lines[-1].strip()[:300] if lines else "(no output)"
    return InternalError(f"{what} crashed: {last} (its full output: {path})")
