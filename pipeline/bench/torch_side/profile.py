"""Where the time goes: ``torch.profiler`` over the emitted module's fastest eager form
(``optimize_for_inference()``, NCHW and channels_last) and its torchvision twin's (fx fuse,
both formats), op by op, at one batch size, same input, threads and denormal setting as the
benchmark (docs/performance.md reads it).

``python -m pipeline.bench.torch_side.profile OUT_DIR MODEL [BATCH]`` prints, per form, the
ops by self CPU time per call and how many times each runs.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch.profiler import ProfilerActivity, profile

from pipeline.bench import timing
from pipeline.bench.torch_side import run, twins

CALLS = 20  # profiled calls per form, after timing.WARMUP
ROWS = 12  # ops shown per form


def _profiled(module: torch.nn.Module, x: torch.Tensor) -> str:
    with torch.inference_mode():
        for _ in range(timing.WARMUP):
            module(x)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(CALLS):
                module(x)
    table = prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=ROWS)
    return table.replace("Self CPU time total", f"Self CPU time total ({CALLS} calls)")


def main(argv: list[str]) -> int:
    out_dir, model = Path(argv[0]), argv[1]
    batch = int(argv[2]) if len(argv) > 2 else 8
    torch.set_num_threads(timing.THREADS)
    torch.set_flush_denormal(True)
    keras_x = timing.inputs(out_dir, batch)
    wanted = (run.FUSED, run.FUSED_CHANNELS_LAST, f"{twins.PREFIX}")
    for label, module, feed in run.eager_runners(out_dir, model):
        if module is not None and (label in wanted[:2] or label.startswith(wanted[2])):
            if "fx fuse" in label or not label.startswith(twins.PREFIX):
                print(f"## {label}, batch {batch}\n{_profiled(module, feed(keras_x))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
