"""``python -m pipeline.zoo.floor MODEL OUT [RUNS]``: what a conversion of MODEL costs at the
least, whatever our own code does: the export side (``pipeline.export.floor``: TensorFlow's
import, building the model, tf2onnx) and the torch side (``pipeline.torch_stage.floor``, on
the model already converted into OUT: torch.export, ``model.pt2`` saved and loaded,
torch.onnx), each in its own process, RUNS times (default 3); prints the medians as a
Markdown row (README, "Conversion time of the big nets")."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys

from pipeline import malloc


def _side(module: str, argument: str) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, "-m", module, argument],
        capture_output=True,
        text=True,
        check=False,
        env=malloc.environment(),  # as convert's stages run
    )
    if proc.returncode != 0:
        raise SystemExit(f"{module} {argument} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure(model: str, out: str, runs: int = 3) -> dict[str, float]:
    """Each part's median seconds over ``runs`` (``make zoo`` takes one run per model for
    its convert/floor column)."""
    found = [
        _side("pipeline.export.floor", model) | _side("pipeline.torch_stage.floor", out)
        for _ in range(runs)
    ]
    return {part: statistics.median(run[part] for run in found) for part in found[0]}


def main(argv: list[str]) -> int:
    model, out = argv[0], argv[1]
    medians = measure(model, out, int(argv[2]) if len(argv) > 2 else 3)
    print("| model | " + " | ".join(medians) + " | sum |")
    print("|---" * (len(medians) + 2) + "|")
    cells = " | ".join(f"{s:.1f} s" for s in medians.values())
    print(f"| {model} | {cells} | **{sum(medians.values()):.1f} s** |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
