"""``make zoo``: convert a list of models, each through the four stage processes, and write a
table of what came out (``docs/zoo.md``, ``build/zoo/zoo.json``).

``python -m pipeline zoo [MODEL ...] [--jobs N]`` (default: every model in ``ZOO``, one at
a time). With N jobs, N conversions run at once from a thread pool; each conversion is
still the four stage processes of ``python -m pipeline convert``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

from models import REGISTRY
from pipeline import artifacts
from pipeline.errors import ERROR_LINE
from pipeline.zoo import floor, startup
from pipeline.zoo.table import table, write_doc

# The models of models.REGISTRY that convert (the registry imports no framework).
SMALL = tuple(name for name, entry in REGISTRY.items() if entry.converts)
APPLICATIONS = (
    "MobileNet",
    "MobileNetV2",
    "MobileNetV3Small",
    "MobileNetV3Large",
    "ResNet50",
    "ResNet50V2",
    "ResNet101",
    "VGG16",
    "VGG19",
    "DenseNet121",
    "InceptionV3",
    "InceptionResNetV2",
    "Xception",
    "NASNetMobile",
    "EfficientNetB0",
    "EfficientNetV2B0",
    "ConvNeXtTiny",
)
# Models of the kinds users bring (issue 12): Keras 2 files, several inputs and outputs,
# nested and transfer-learning models, uneven "same" padding. Their own section of the doc.
KERAS2_FILES = Path("build") / "keras2"  # written by models.keras2_lenet4 if missing
BROUGHT = (
    str(KERAS2_FILES / "lenet4_keras2.h5"),
    str(KERAS2_FILES / "lenet4_keras2_savedmodel"),
    "nested_sequential",
    "siamese",
    "transfer",
    "multi_output",
    "flatten_concat",
    "dense_reshape",
    "same_padding",
    "autoencoder",
    "cnn_head",
    "wavenet",
    "video_frames",
    "seq2seq",
    "dict_io",
    "masked_text",
    "masked_frames",
    "masked_transformer",
)
ZOO = tuple(m for m in SMALL if m not in BROUGHT) + BROUGHT + APPLICATIONS
OUT = Path("build") / "zoo"
STAGE_REPORTS = {
    "export": artifacts.EXPORT_REPORT,
    "passes": artifacts.PASSES_REPORT,
    "torch": artifacts.TORCH_REPORT,
    "check": artifacts.REPORT,
}


def _read(path: Path, since: float) -> dict:
    """A stage report written by this run (a failed run leaves the earlier runs' reports of
    the stages after the failure in place: they are not this run's figures)."""
    if not path.is_file() or path.stat().st_mtime < since:
        return {}
    return json.loads(path.read_text())


def convert_one(model: str, out_root: Path = OUT) -> dict:
    out = out_root / Path(model).name
    start, since = time.perf_counter(), time.time()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "convert", model, str(out)],
        capture_output=True,
        text=True,
    )
    reports = {stage: _read(out / name, since) for stage, name in STAGE_REPORTS.items()}
    errors = [line for line in proc.stderr.splitlines() if ERROR_LINE.match(line)]
    row = {
        "model": model,
        "ok": proc.returncode == 0,
        "error": errors[0][:400]
        if errors
        else ("" if proc.returncode == 0 else proc.stderr.strip()[-400:]),
        "params": reports["export"].get("param_count"),
        "anchor": reports["export"].get("float64_anchor"),
        "anchor_seconds": reports["export"].get("float64_anchor_seconds"),
        "anchor_later": (out / artifacts.ANCHOR).is_file(),  # made by a later stage
        "seconds": {s: r.get("seconds") for s, r in reports.items()},
        "total_seconds": round(time.perf_counter() - start, 1),
    }
    passes = reports["passes"]
    if passes:
        row["ops_before"] = sum(passes["ops_before"].values())
        row["ops_after"] = sum(passes["ops_after"].values())
        row["transposes"] = [
            passes["ops_before"].get("Transpose", 0),
            passes["ops_after"].get("Transpose", 0),
        ]
    check = reports["check"]
    if check:
        worst: dict[str, float] = {}
        for c in check["comparisons"]:
            worst[c["artifact"]] = max(worst.get(c["artifact"], 0.0), c["max_rel"])
        row["max_error"] = worst
        row["modules"] = check["torch"]["module_types"]
        row["torch_params"] = check["torch"]["param_count"]
        row["weights"] = check["torch"].get("weights_as_parameters")
    if row["ok"]:  # what the same conversion costs at the least (pipeline.zoo.floor), once
        row["floor_seconds"] = round(sum(floor.measure(model, str(out), runs=1).values()), 1)
    return row


def main(models: list[str], jobs: int = 1) -> int:
    """Convert ``models`` (default: the whole ZOO), ``jobs`` at once; rows of models not run
    this time are kept from the previous build/zoo/zoo.json, so ``make zoo ZOO=x`` refreshes
    one row."""
    previous_path, meta_path = OUT / "zoo.json", OUT / "run.json"
    previous = {}
    if previous_path.is_file():
        previous = {r["model"]: r for r in json.loads(previous_path.read_text())}
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    models = list(models or ZOO)
    if any(m.startswith(str(KERAS2_FILES)) for m in models):
        keras2_files()
    print("[zoo] measuring each stage's start-up (imports) ...", flush=True)
    meta["startup"] = startup.measure()
    start = time.perf_counter()
    ran = _convert_all(models, max(jobs, 1))
    meta.update(jobs=max(jobs, 1), wall_seconds=round(time.perf_counter() - start, 1))
    merged = {**previous, **ran}
    order = [m for m in ZOO if m in merged] + [m for m in merged if m not in ZOO]
    rows = [merged[m] for m in order]
    artifacts.write_json(previous_path, rows)
    artifacts.write_json(meta_path, meta)
    write_doc(rows, BROUGHT, meta)
    print(table([ran[m] for m in models]))
    return 0 if all(r["ok"] for r in ran.values()) else 1


def _convert_all(models: list[str], jobs: int) -> dict[str, dict]:
    ran = {}
    with ThreadPoolExecutor(jobs) as pool:
        futures = {pool.submit(convert_one, model): model for model in models}
        for future in as_completed(futures):
            row = ran[futures[future]] = future.result()
            verdict = "ok" if row["ok"] else "FAILS"
            print(f"[zoo] {row['model']}: {verdict} ({row['total_seconds']} s)", flush=True)
    return ran


def keras2_files() -> None:
    """The Keras 2 files of BROUGHT, written by tf_keras in their own process if missing."""
    if not all(Path(m).exists() for m in BROUGHT if m.startswith(str(KERAS2_FILES))):
        command = [sys.executable, "-m", "models.keras2_lenet4", str(KERAS2_FILES)]
        subprocess.run(command, check=True, capture_output=True)
