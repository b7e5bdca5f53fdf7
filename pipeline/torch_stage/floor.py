"""``python -m pipeline.torch_stage.floor OUT``: the torch stage's parts that every conversion
requires, timed on a model converted into OUT: torch.export of ``model.py``, ``model.pt2``
saved and loaded back, and ``model.onnx`` exported from it by torch.onnx and saved. Prints
them as JSON, in seconds (the torch side of ``python -m pipeline.zoo.floor``); writes only
in a temporary directory."""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import onnx
import torch

from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.torch_stage import deploy, verify


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    stage2 = onnx.load(out / artifacts.STAGE2, load_external_data=False)
    perms = metadata.input_perms({p.key: p.value for p in stage2.metadata_props})
    model = verify.load_module(out / artifacts.MODEL_PY, out / artifacts.WEIGHTS)
    example = verify.export_example(ref.load(out / artifacts.REFERENCE), perms)
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        program, error = deploy.export_program(model, example, deploy.open_axes(stage2))
        exported = time.perf_counter()
        if error is not None:
            raise SystemExit(f"torch.export fails: {error}")
        deploy.write_pt2(program, Path(tmp) / artifacts.MODEL_PT2)
        saved = torch.export.load(Path(tmp) / artifacts.MODEL_PT2)
        loaded = time.perf_counter()
        error = deploy.write_onnx(saved, Path(tmp) / artifacts.MODEL_ONNX, stage2)[2]
        done = time.perf_counter()
    if error is not None:
        raise SystemExit(f"torch.onnx.export fails: {error}")
    seconds = {"torch.export": exported - start, "model.pt2 save + load": loaded - exported}
    print(json.dumps({**seconds, "torch.onnx export + save": done - loaded}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
