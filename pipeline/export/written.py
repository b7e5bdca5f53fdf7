"""Stage 1's files, each written atomically: ``stage1.onnx``, ``reference.npz`` and, for a
model built here, the Keras model; after a failed check, the same in ``OUT/failed``."""

from __future__ import annotations

from pathlib import Path

import onnx

from pipeline import artifacts
from pipeline import reference as ref


def write(out_dir: Path, proto, reference: ref.Reference, built=None) -> dict[str, str]:
    """Write stage1.onnx, reference.npz and (for a model built here) the Keras model, each
    atomically; what was written where."""
    written = {}
    if built is not None:
        keras_path = out_dir / artifacts.KERAS_MODEL
        with artifacts.atomic_path(keras_path) as tmp:
            built.save(tmp)
        written["keras_model"] = str(keras_path)
    ref.save(out_dir / artifacts.REFERENCE, reference)
    with artifacts.atomic_path(out_dir / artifacts.STAGE1) as tmp:
        onnx.save(proto, tmp)
    written.update(
        stage1=str(out_dir / artifacts.STAGE1), reference=str(out_dir / artifacts.REFERENCE)
    )
    return written


def write_failed(to: Path, model: str, proto, reference: ref.Reference, built) -> None:
    """A failed export's files, for diagnose: its own report names the model it rebuilds."""
    write(to, proto, reference, built)
    artifacts.write_json(
        to / artifacts.EXPORT_REPORT, {"stage": "export", "passed": False, "model": model}
    )
