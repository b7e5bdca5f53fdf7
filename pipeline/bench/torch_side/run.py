"""Benchmark runner, torch side: the emitted module (NCHW and channels_last), the naive
onnx2torch GraphModule of ``stage1.onnx`` and, for LeNet4, the reference post's hand-written
module; for nets with BatchNorm also the emitted module with Conv+BatchNorm folded for
inference (``model.py``'s ``optimize_for_inference()``, what tf2onnx does to the naive
chain), in both memory formats; the emitted module compiled by ``torch.compile``
(``compiled``, checked against Keras first); for a ``keras.applications`` model with a
torchvision twin, that twin in its fastest forms (``twins``). Every emitted configuration is
one model.py or docs/performance.md documents. ``torch.set_flush_denormal(True)`` and the
thread count apply to all of them.

``python -m pipeline.bench.torch_side.run OUT_DIR MODEL`` prints JSON: the results and the
compiled form's comparisons with Keras.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx2torch import convert

from pipeline import artifacts, metadata
from pipeline import reference as ref
from pipeline.bench import timing
from pipeline.bench.torch_side import compiled, handwritten_lenet4, twins
from pipeline.torch_stage.verify import load_module

Feed = Callable[[np.ndarray], torch.Tensor]  # Keras-layout input -> what a runner takes
FUSED = "emitted, optimize_for_inference() (Conv+BN folded)"
FUSED_CHANNELS_LAST = "emitted, optimize_for_inference(channels_last=True)"


def _runners(out_dir: Path, model: str, facts: dict) -> list[tuple[str, torch.nn.Module, Feed]]:
    """Every torch runner, built once, with how to feed it a Keras-layout input; what the
    compiled form's check found goes into ``facts``."""
    stage2 = onnx.load(out_dir / artifacts.STAGE2, load_external_data=False)
    runners = eager_runners(out_dir, model, stage2)
    meta = {p.key: p.value for p in stage2.metadata_props}
    perm = metadata.input_perms(meta).get(stage2.graph.input[0].name)
    found, facts["compiled"] = compiled.compiled(
        lambda: load_module(out_dir / artifacts.MODEL_PY, out_dir / artifacts.WEIGHTS),
        ref.load(out_dir / artifacts.REFERENCE),
        {stage2.graph.input[0].name: perm} if perm else {},
        metadata.output_perms(meta),
        stage2,
    )
    return [*runners, *((label, module, runners[0][2]) for label, module in found)]


def eager_runners(
    out_dir: Path, model: str, stage2: onnx.ModelProto | None = None
) -> list[tuple[str, torch.nn.Module | None, Feed]]:
    """The runners but the compiled one (a twin fx cannot trace: its module None);
    ``stage2``: stage2.onnx, if the caller has read it already."""
    if stage2 is None:
        stage2 = onnx.load(out_dir / artifacts.STAGE2, load_external_data=False)
    meta = {p.key: p.value for p in stage2.metadata_props}
    perm = metadata.input_perms(meta).get(stage2.graph.input[0].name)

    def nchw(keras_x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(keras_x.transpose(perm) if perm else keras_x))

    def load() -> torch.nn.Module:
        return load_module(out_dir / artifacts.MODEL_PY, out_dir / artifacts.WEIGHTS)

    emitted = load()
    runners: list[tuple[str, torch.nn.Module, Feed]] = [("emitted model.py (NCHW)", emitted, nchw)]
    if len(stage2.graph.input[0].type.tensor_type.shape.dim) == 4:
        runners.append(
            (
                "emitted model.py (channels_last)",
                load().to(memory_format=torch.channels_last),
                lambda k: nchw(k).contiguous(memory_format=torch.channels_last),
            )
        )
    if any(isinstance(m, torch.nn.BatchNorm2d) for m in emitted.modules()):
        runners.append((FUSED, load().optimize_for_inference(), nchw))
        runners.append(
            (
                FUSED_CHANNELS_LAST,
                load().optimize_for_inference(channels_last=True),
                lambda k: nchw(k).contiguous(memory_format=torch.channels_last),
            )
        )
    naive = convert(onnx.load(out_dir / artifacts.STAGE1)).eval()
    runners.append(("naive onnx2torch GraphModule of stage1.onnx", naive, torch.from_numpy))
    if meta.get(metadata.MODEL_NAME) == "lenet4":
        state = torch.load(out_dir / artifacts.WEIGHTS, weights_only=True)
        runners.append(
            ("hand-written LeNet4 (reference post)", handwritten_lenet4.from_emitted(state), nchw)
        )
    return runners + twins.runners(model, nchw)


def main(argv: list[str]) -> int:
    out_dir, model = Path(argv[0]), argv[1]
    torch.set_num_threads(timing.THREADS)
    torch.set_flush_denormal(True)
    facts: dict = {}
    runners = _runners(out_dir, model, facts)
    facts["not_timed"] = [label for label, m, _ in runners if m is None]
    runners = [r for r in runners if r[1] is not None]
    results = []
    for batch in timing.BATCH_SIZES:
        keras_x = timing.inputs(out_dir, batch)
        runners_now = [(label, m, feed(keras_x)) for label, m, feed in runners]
        with torch.inference_mode():
            expected = runners_now[0][1](runners_now[0][2])
            agree = {  # a torchvision twin computes with other weights: not compared
                label: None if twins.PREFIX in label else float((m(x) - expected).abs().max())
                for label, m, x in runners_now
            }
            stats = timing.measure_interleaved(
                {label: (lambda m=m, x=x: m(x)) for label, m, x in runners_now}
            )
        for label, _, _ in runners_now:
            results.append(
                {
                    "runner": label,
                    "batch": batch,
                    "max_abs_vs_emitted": agree[label],
                    **stats[label],
                }
            )
    json.dump({"results": results, **facts}, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
