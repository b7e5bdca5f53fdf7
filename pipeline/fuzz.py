"""``python -m pipeline fuzz --count N --seed S``: random Keras models (``models.fuzz``)
through the four stage processes, each outcome in exactly one class:

- ``ok``: converted, every check within the bar;
- ``refused``: a stage stopped with a clear error naming a Keras layer;
- ``mismatch``: a check failed (a conversion bug: the numbers differ);
- ``weight_as_buffer``: a Keras weight the module does not train (not an ``nn.Parameter``, or
  held by a buffer), whatever the numbers;
- ``crash``: an internal error (exit 6, its traceback in a file), a traceback, or an error
  that names no layer (a bug too).

Writes ``build/fuzz/fuzz.json`` (counts, and every model's class, stage and message) and, for
each mismatch or crash, its spec shrunk by deleting steps while the class stays
(``build/fuzz/repro/<seed>.json``; ``python -m pipeline convert fuzz:<that file>`` rebuilds it).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pipeline import artifacts
from pipeline.errors import ERROR_LINE, InternalError

OUT = Path("build") / "fuzz"
CLASSES = ("ok", "refused", "mismatch", "weight_as_buffer", "crash")
BUGS = ("mismatch", "weight_as_buffer", "crash")
_NAMES_A_LAYER = re.compile(r"layer '[^']+'|Keras layer|layers? \S+ \(")
_MISMATCH = ("does not match Keras", "fails its checks", "changed the model's outputs")
_NOT_PARAMETER = "is not an nn.Parameter"  # pipeline.problems: a weight fine-tuning never moves
_BROKEN = ("left an invalid ONNX graph", "left a graph onnxruntime cannot run")  # a pass bug


def classify(returncode: int, output: str) -> tuple[str, str, str]:
    """(class, stage, message) of one conversion from its exit code and its output."""
    if returncode == 0:
        return "ok", "", ""
    errors = ERROR_LINE.findall(output)
    if returncode == InternalError.exit_code and errors:  # a bug of ours, said in one line
        return "crash", errors[-1][0], errors[-1][1][:500]
    if "Traceback (most recent call last)" in output or not errors:
        tail = output.strip().splitlines()[-1:] or [""]
        return "crash", errors[-1][0] if errors else "", tail[0][:300]
    stage, message = errors[-1]
    if _NOT_PARAMETER in message:
        return "weight_as_buffer", stage, message[:500]
    if any(text in message for text in _MISMATCH):
        return "mismatch", stage, message[:500]
    if any(text in message for text in _BROKEN):
        return "crash", stage, message[:500]
    if _NAMES_A_LAYER.search(message):
        return "refused", stage, message[:500]
    return "crash", stage, message[:500]


def convert(model: str, out: Path) -> tuple[str, str, str]:
    command = [sys.executable, "-m", "pipeline", "convert", model, str(out)]
    proc = subprocess.run(command, capture_output=True, text=True)
    return classify(proc.returncode, proc.stdout + proc.stderr)


def _spec(seed: int) -> dict:
    """The seed's spec, from a process that may import models.fuzz (no TensorFlow needed,
    but models/ is the export side's package)."""
    command = [sys.executable, "-c", f"from models import fuzz; print(fuzz.to_json({seed}))"]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)


def shrink(spec: dict, kind: str, work: Path) -> dict:
    """``spec`` with every step and extra whose removal keeps the failure ``kind``."""
    work.mkdir(parents=True, exist_ok=True)

    def fails(candidate: dict) -> bool:
        path = work / "candidate.json"
        path.write_text(json.dumps(candidate))
        return convert(f"fuzz:{path}", work / "out")[0] == kind

    for extra in ("second_input", "second_output"):
        if spec.get(extra) and fails({**spec, extra: False}):
            spec = {**spec, extra: False}
    index = 0
    while index < len(spec["steps"]):
        steps = spec["steps"][:index] + spec["steps"][index + 1 :]
        if fails({**spec, "steps": steps}):
            spec = {**spec, "steps": steps}
        else:
            index += 1
    return spec


def run_one(seed: int, out: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix=f"fuzz-{seed}-") as tmp:
        kind, stage, message = convert(f"fuzz:{seed}", Path(tmp))
    spec = _spec(seed)
    row = {
        "seed": seed,
        "class": kind,
        "stage": stage,
        "message": message,
        "steps": [s["kind"] for s in spec["steps"]],
        "head": spec["head"],
    }
    if kind in BUGS:
        with tempfile.TemporaryDirectory(prefix=f"fuzz-shrink-{seed}-") as tmp:
            small = shrink(spec, kind, Path(tmp))
        repro = out / "repro" / f"{seed}.json"
        artifacts.write_text(repro, json.dumps(small, indent=1) + "\n")
        row["repro"] = str(repro)
    print(f"[fuzz] {seed}: {kind}{' (' + stage + ')' if stage else ''}", flush=True)
    return row


def run(count: int, seed: int, jobs: int = 2, out: Path = OUT) -> dict:
    seeds = range(seed, seed + count)
    with ThreadPoolExecutor(jobs) as pool:
        rows = list(pool.map(lambda s: run_one(s, out), seeds))
    counts = Counter(r["class"] for r in rows)
    result = {
        "seed": seed,
        "count": count,
        "counts": {c: counts.get(c, 0) for c in CLASSES},
        "refused": _refusals(rows),
        "models": rows,
    }
    artifacts.write_json(out / "fuzz.json", result)
    return result


def _refusals(rows: list[dict]) -> dict[str, int]:
    """How often each refusal was met, its message with the layer names taken out."""
    reasons = Counter(
        re.sub(r"'[a-z_]+_\d+'", "'...'", r["message"])[:200]
        for r in rows
        if r["class"] == "refused"
    )
    return dict(reasons.most_common())


def main(count: int, seed: int, jobs: int) -> int:
    result = run(count, seed, jobs)
    print(
        f"[fuzz] {result['count']} models from seed {seed}: "
        + ", ".join(f"{c} {n}" for c, n in result["counts"].items())
    )
    for row in result["models"]:
        if row["class"] in BUGS:
            print(
                f"[fuzz] {row['class']}: seed {row['seed']} ({row['stage']}): "
                f"{row['message'][:200]} -> {row['repro']}"
            )
    print(f"[fuzz] wrote {OUT / 'fuzz.json'}")
    return 1 if any(result["counts"][c] for c in BUGS) else 0
