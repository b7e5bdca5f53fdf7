"""``python -m pipeline.export.floor MODEL``: the export stage's parts that no change of ours
removes, timed in this fresh process: TensorFlow's import, building (or loading) the model,
and tf2onnx's ``from_keras`` as stage 1 calls it. Prints them as JSON, in seconds (the
export side of ``python -m pipeline.zoo.floor``)."""

from __future__ import annotations

import json
import sys
import time


def main(argv: list[str]) -> int:
    start = time.perf_counter()
    import tensorflow  # noqa: F401  (what the export process pays first)

    imported = time.perf_counter()
    from models import resolve

    from pipeline.export import tf2onnx_export

    model = resolve(argv[0]).model
    built = time.perf_counter()
    tf2onnx_export.to_onnx(model)
    done = time.perf_counter()
    seconds = {"tensorflow import": imported - start, "build": built - imported}
    print(json.dumps({**seconds, "tf2onnx from_keras": done - built}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
