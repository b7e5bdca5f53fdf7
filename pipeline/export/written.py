"""Stage 1's files, each written atomically: ``stage1.onnx``, ``reference.npz`` and, for a
model built here, the Keras model; after a failed check, the same in ``OUT/failed``; and
what export.json says of ``stage1.onnx`` so that check need not read it again."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

from pipeline import artifacts, metadata
from pipeline import reference as ref


@contextmanager
def keras_model_saved(out_dir: Path, built) -> Iterator[Future | None]:
    """Save a model built here (``built``; None: nothing to save) as ``keras_model.keras`` on
    a second thread while the block runs (tf2onnx, which leaves a core idle: 1 s saved on
    VGG16). The save is waited for when the block ends, however it ends, so that a failed
    stage removes the file with its others (``artifacts.stage_outputs``). Yields what
    ``write`` takes as ``saving``."""
    if built is None:
        yield None
        return
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="keras-save")
    try:
        yield pool.submit(_save_keras, built, out_dir / artifacts.KERAS_MODEL)
    finally:
        pool.shutdown(wait=True)


def _save_keras(built, path: Path) -> str:
    with artifacts.atomic_path(path) as tmp:
        built.save(tmp)
    return str(path)


def write(
    out_dir: Path, proto, reference: ref.Reference, built=None, saving: Future | None = None
) -> dict[str, str]:
    """Write stage1.onnx (``proto``: the model or its bytes), reference.npz and (for a model
    built here) the Keras model, each atomically, or take the Keras model from ``saving``
    (``keras_model_saved``); what was written where."""
    written = {}
    if saving is not None:
        written["keras_model"] = saving.result()  # its error (a full disk), if any, here
    elif built is not None:
        written["keras_model"] = _save_keras(built, out_dir / artifacts.KERAS_MODEL)
    ref.save(out_dir / artifacts.REFERENCE, reference)
    with artifacts.atomic_path(out_dir / artifacts.STAGE1) as tmp:
        tmp.write_bytes(proto if isinstance(proto, bytes) else proto.SerializeToString())
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
