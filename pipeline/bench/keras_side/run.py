"""Benchmark runner, TensorFlow side: the Keras model under ``tf.function``.

``python -m pipeline.bench.keras_side.run OUT_DIR MODEL`` prints JSON results. TensorFlow flushes
denormals to zero in its CPU kernels by default; intra-op threads are pinned like the others.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from pipeline import artifacts  # noqa: E402
from pipeline.bench import timing  # noqa: E402


def _keras_model(out_dir: Path, model: str) -> keras.Model:
    saved = out_dir / artifacts.KERAS_MODEL
    if saved.is_file():
        return keras.saving.load_model(saved, compile=False)
    from models import resolve

    return resolve(model).model


def main(argv: list[str]) -> int:
    out_dir, model_name = Path(argv[0]), argv[1]
    tf.config.threading.set_intra_op_parallelism_threads(timing.THREADS)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = _keras_model(out_dir, model_name)
    call = tf.function(lambda x: model(x, training=False))
    results = []
    for batch in timing.BATCH_SIZES:
        x = tf.constant(timing.inputs(out_dir, batch))
        results.append(
            {
                "runner": "Keras (TensorFlow, tf.function)",
                "batch": batch,
                **timing.measure(lambda x=x: call(x).numpy()),
            }
        )
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
