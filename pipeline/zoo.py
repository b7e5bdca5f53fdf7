"""``make zoo``: convert a list of models, each through the four stage processes, and write a
table of what came out (``docs/zoo.md``, ``build/zoo/zoo.json``).

``python -m pipeline zoo [MODEL ...]`` (default: every model in ``ZOO``).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from models import REGISTRY
from pipeline import artifacts

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
)
ZOO = tuple(m for m in SMALL if m not in BROUGHT) + BROUGHT + APPLICATIONS
OUT = Path("build") / "zoo"
DOC = Path("docs") / "zoo.md"
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
    errors = [line for line in proc.stderr.splitlines() if "] error:" in line]
    row = {
        "model": model,
        "ok": proc.returncode == 0,
        "error": errors[0][:400]
        if errors
        else ("" if proc.returncode == 0 else proc.stderr.strip()[-400:]),
        "params": reports["export"].get("param_count"),
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
    return row


def table(rows: list[dict]) -> str:
    head = (
        "| model | params | result | max error stage1 / stage2 / torch | Transpose "
        "before -> after | ops before -> after | torch modules | seconds export / passes "
        "/ torch / check |\n|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        err = r.get("max_error", {})
        errors = " / ".join(
            f"{err[a]:.1e}" if a in err else "-"
            for a in (artifacts.STAGE1, artifacts.STAGE2, artifacts.MODEL_PY)
        )
        result = "ok" if r["ok"] else "FAILS: " + r["error"].replace("|", "/")[:160]
        tr = r.get("transposes")
        transposes = f"{tr[0]} -> {tr[1]}" if tr else "-"
        ops = f"{r['ops_before']} -> {r['ops_after']}" if "ops_before" in r else "-"
        secs = " / ".join("-" if v is None else f"{v:.1f}" for v in r["seconds"].values())
        lines.append(
            f"| {r['model']} | {r['params'] or '-'} / {r.get('torch_params') or '-'} | {result} | "
            f"{errors} | "
            f"{transposes} | {ops} | "
            f"{', '.join(r.get('modules', [])) or '-'} | {secs} |"
        )
    return "\n".join(lines)


def main(models: list[str]) -> int:
    """Convert ``models`` (default: the whole ZOO); rows of models not run this time are kept
    from the previous build/zoo/zoo.json, so ``make zoo ZOO=x`` refreshes one row."""
    previous_path = OUT / "zoo.json"
    previous = {}
    if previous_path.is_file():
        previous = {r["model"]: r for r in json.loads(previous_path.read_text())}
    ran = {}
    if any(m.startswith(str(KERAS2_FILES)) for m in models or ZOO):
        keras2_files()
    for model in models or ZOO:
        print(f"[zoo] {model} ...", flush=True)
        ran[model] = convert_one(model)
        verdict = "ok" if ran[model]["ok"] else "FAILS"
        print(f"[zoo] {model}: {verdict} ({ran[model]['total_seconds']} s)", flush=True)
    merged = {**previous, **ran}
    order = [m for m in ZOO if m in merged] + [m for m in merged if m not in ZOO]
    rows = [merged[m] for m in order]
    artifacts.write_json(previous_path, rows)
    write_doc(rows)
    print(table(list(ran.values())))
    return 0 if all(r["ok"] for r in ran.values()) else 1


def keras2_files() -> None:
    """The Keras 2 files of BROUGHT, written by tf_keras in their own process if missing."""
    if not all(Path(m).exists() for m in BROUGHT if m.startswith(str(KERAS2_FILES))):
        command = [sys.executable, "-m", "models.keras2_lenet4", str(KERAS2_FILES)]
        subprocess.run(command, check=True, capture_output=True)


BROUGHT_SECTION = (
    '\n## Models users bring\n\nThe kinds of model a new user brings (README, "MODEL="): '
    "a LeNet4 written by Keras 2 (`tf_keras`) as `.h5` and as a SavedModel directory, "
    "its reference being `tf_keras`' outputs (`make keras2-files`); a Sequential of "
    "Sequential blocks; a siamese net (a nested encoder and a Dense shared by two inputs); "
    "MobileNetV2 without its top, called as a layer after augmentation layers; an image and "
    "a vector in with a dict of three outputs; an image flattened and joined with a vector; "
    'a decoder head; every uneven TensorFlow "same" padding in one model.\n\n'
)


def write_doc(rows: list[dict]) -> None:
    text = (
        "# The zoo\n\nGenerated by `make zoo` (`python -m pipeline zoo`); every row is one "
        "`python -m pipeline convert` run on this machine (2 cores; take the seconds as rough). "
        "keras.applications models are built with `weights=None` at 96x96 where allowed, every "
        "weight randomized (seed 0). Max error is the scaled error of the check, "
        "max |artifact - Keras| / max |Keras|, over every reference case (batch 1 and 4, and "
        "batch 2 at a second size for models with open sizes); the bar is 1e-5, 1e-4 for "
        "nets of more than 50 layers. Params: Keras' `count_params()` / the emitted module's "
        "parameters and module-owned buffers; the check holds the latter to Keras' count "
        "adjusted as the README's Limits say (BatchNorm/LayerNorm without scale or center, "
        "Normalization's statistics, the recurrent `bias_hh` torch adds).\n\n"
        + table([r for r in rows if r["model"] not in BROUGHT])
        + "\n"
        + BROUGHT_SECTION
        + table([r for r in rows if r["model"] in BROUGHT])
        + "\n"
    )
    artifacts.write_text(DOC, text)
