"""One stage for many models in one process, so that its imports are paid once.

``python -m pipeline.batch STAGE OUT_ROOT MODEL ...`` runs ``export``, ``passes``, ``torch``
or ``check`` for each model (its artifacts in ``OUT_ROOT/<dir_name(model)>``, the files
and functions of ``python -m pipeline <stage>``), one after the other, and writes
``OUT_ROOT/batch-<stage>-<key>.json`` (``results_path``: the key tells batches over other
models apart, which may share OUT_ROOT and run at once): per model, its exit code and its
error line (as the stage command prints it; a traceback for an error no stage named). A
model's failure does not stop the others. ``convert(models, out_root)`` chains the four
batch processes, each over the models still converting.

What it is for: a one-layer model converts in about a second, and each of its four stage
processes first spends seconds importing TensorFlow or torch (``pipeline/zoo/startup.py``);
the test suite converts some hundred such models. The stages stay separate processes (the
TensorFlow/torch rule); export forgets each model's Keras state before the next
(``keras.backend.clear_session``: names and seeds as in a fresh process).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import subprocess
import sys
import traceback
from pathlib import Path

from pipeline import artifacts
from pipeline.cli import STAGES
from pipeline.errors import PipelineError

ORDER = ("export", "passes", "torch", "check")


def dir_name(model: str) -> str:
    """``layer:Conv2D`` -> ``layer_Conv2D``; a path by its stem (as ``make convert``)."""
    name = Path(model.rstrip("/")).stem if "/" in model else model
    return name.replace(":", "_")


def _arguments(stage: str, model: str, out: Path) -> list:
    reference = out / artifacts.REFERENCE
    return {
        "export": [model, out],
        "passes": [out / artifacts.STAGE1, out / artifacts.STAGE2, reference],
        "torch": [out / artifacts.STAGE2, out, reference],
        "check": [out],
    }[stage]


def results_path(out_root: Path, stage: str, models: list[str]) -> Path:
    key = hashlib.sha256("\n".join(models).encode()).hexdigest()[:12]
    return Path(out_root) / f"batch-{stage}-{key}.json"


def run(stage: str, out_root: Path, models: list[str]) -> dict[str, dict]:
    module = importlib.import_module(STAGES[stage])
    results = {}
    for model in models:
        try:
            report = module.run(*_arguments(stage, model, out_root / dir_name(model)))
            results[model] = {"exit": 0 if report.passed else 4, "error": ""}
        except PipelineError as exc:
            results[model] = {"exit": exc.exit_code, "error": f"[{stage}] error: {exc}"}
        except Exception:  # noqa: BLE001  (a crash: the caller sees the traceback)
            results[model] = {"exit": 1, "error": traceback.format_exc()}
        finally:
            if stage == "export":
                module.forget_models()
    artifacts.write_json(results_path(out_root, stage, models), results)
    return results


def convert(models: list[str], out_root: Path, stages: tuple[str, ...] = ORDER) -> dict:
    """Each model through ``stages`` (one batch process per stage): per model, the exit
    code, the error and the stage that stopped it ("" if none)."""
    out_root = Path(out_root)
    results = {m: {"exit": 0, "error": "", "stage": ""} for m in models}
    for stage in stages:
        going = [m for m in models if results[m]["exit"] == 0]
        if not going:
            break
        command = [sys.executable, "-m", "pipeline.batch", stage, str(out_root), *going]
        proc = subprocess.run(command, capture_output=True, text=True)
        found = results_path(out_root, stage, going)
        if proc.returncode or not found.is_file():  # the batch process itself died
            for m in going:
                results[m] = {"exit": proc.returncode or 1, "error": proc.stderr[-3000:]}
                results[m]["stage"] = stage
            break
        for model, result in json.loads(found.read_text()).items():
            results[model] = {**result, "stage": stage if result["exit"] else ""}
    return results


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.WARNING, format="  %(name)s: %(message)s")
    stage, out_root, models = argv[0], Path(argv[1]), argv[2:]
    if stage not in ORDER:
        print(f"batch: unknown stage '{stage}': one of {', '.join(ORDER)}", file=sys.stderr)
        return 2
    run(stage, out_root, models)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
