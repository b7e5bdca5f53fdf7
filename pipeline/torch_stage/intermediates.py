"""``python -m pipeline.torch_stage.intermediates OUT``: the value after each line of the
emitted ``forward`` on the first reference case, by the Keras layer the line belongs to (its
``# layer (Class)`` comment, or the ``self.<module>`` it calls), for ``python -m pipeline
diagnose`` (torch side). Writes ``OUT/diagnose_torch.npz``: ``<step>:<layer or module>`` ->
the value after that line, in the order the lines ran (channels-first where the module
computes so)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import onnx
import torch

from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.torch_stage.verify import load_module

TORCH_VALUES = "diagnose_torch.npz"
_LINE = re.compile(r"^\s+(\w+) = .*?(?:self\.(\w+)\(.*?)?(?:  # (\S+) \(\w+\))?$")


def _line_layers(model_py: Path) -> dict[int, tuple[str, str]]:
    """forward's line number -> (the variable it assigns, the module or layer it belongs to)."""
    lines = model_py.read_text(encoding="utf-8").splitlines()
    # the model class's forward: the last in the file (a KerasBatchNorm2d above has one too)
    start = max(i for i, line in enumerate(lines) if line.startswith("    def forward("))
    found = {}
    for number, line in enumerate(lines[start + 1 :], start=start + 2):
        if line.startswith("    def ") or not line.startswith("        "):
            break
        match = _LINE.match(line)
        if match and (match.group(3) or match.group(2)):
            layer = match.group(3).replace("/", "_") if match.group(3) else match.group(2)
            found[number] = (match.group(1), layer)
    return found


def layer_values(out_dir: Path) -> dict[str, np.ndarray]:
    model_py = out_dir / artifacts.MODEL_PY
    model = load_module(model_py, out_dir / artifacts.WEIGHTS)
    props = {p.key: p.value for p in onnx.load(out_dir / artifacts.STAGE2).metadata_props}
    case = next(iter(ref.load(out_dir / artifacts.REFERENCE).cases.values()))
    feeds = metadata.adapt_inputs(case.inputs, metadata.input_perms(props))
    lines, values, pending = _line_layers(model_py), {}, []
    forward = type(model).forward.__code__

    def trace(frame, event, arg):
        if frame.f_code is not forward:
            return None if event == "call" else trace
        if pending:  # the line before this event has run: keep what it assigned
            variable, layer = pending.pop()
            if isinstance(frame.f_locals.get(variable), torch.Tensor):
                values[f"{len(values):05d}:{layer}"] = frame.f_locals[variable].numpy().copy()
        if event == "line" and frame.f_lineno in lines:
            pending.append(lines[frame.f_lineno])
        return trace

    sys.settrace(trace)
    try:
        with torch.no_grad():
            model(**{k: torch.from_numpy(v) for k, v in feeds.items()})
    finally:
        sys.settrace(None)
    return values


def main(argv: list[str]) -> int:
    out_dir = Path(argv[0])
    values = layer_values(out_dir)
    with artifacts.atomic_path(out_dir / TORCH_VALUES) as tmp:
        np.savez(tmp, **values)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
