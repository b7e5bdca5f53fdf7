"""Stage 1's files, each written atomically: ``stage1.onnx``, ``reference.npz`` and, for a
model built here, the Keras model; after a failed check, the same in ``OUT/failed``; and
what export.json says of ``stage1.onnx`` so that check need not read it again."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import onnx

from pipeline import artifacts, metadata
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


def structure(proto) -> dict:
    """stage1.onnx's op counts and Keras' layers: check reads them here, not the file."""
    return {
        "onnx_ops": len(proto.graph.node),
        "ops": dict(sorted(Counter(n.op_type for n in proto.graph.node).items())),
        "keras_layers": metadata.keras_layers(proto),
    }
