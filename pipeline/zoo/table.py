"""``docs/zoo.md``: the zoo's rows as Markdown tables, with the stages' start-up costs."""

from __future__ import annotations

from pathlib import Path

from pipeline import artifacts
from pipeline.problems import weights_found
from pipeline.zoo import startup

DOC_PATH = "docs/zoo.md"


def table(rows: list[dict]) -> str:
    head = (
        "| model | params | result | max error stage1 / stage2 / torch | Transpose "
        "before -> after | ops before -> after | torch modules | seconds export / passes "
        "/ torch / check | float64 copy s | weights as parameters | convert / floor |"
        "\n|---|---|---|---|---|---|---|---|---|---|---|"
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
            f"{', '.join(r.get('modules', [])) or '-'} | {secs} | {_anchor(r)} | "
            f"{_weights(r.get('weights'))} | {_vs_floor(r)} |"
        )
    return "\n".join(lines)


def _vs_floor(row: dict) -> str:
    """'1.31 (31.2 / 23.8 s)': the conversion's wall time over what it costs at the least
    (``pipeline.zoo.floor``: TensorFlow's import, the build, tf2onnx, torch.export, the
    model.pt2 round trip, torch.onnx), both measured in this run."""
    if not row.get("floor_seconds"):
        return "-"
    ratio = row["total_seconds"] / row["floor_seconds"]
    return f"{ratio:.2f} ({row['total_seconds']:.1f} / {row['floor_seconds']:.1f} s)"


BROUGHT_SECTION = (
    "\n## Models users bring\n\nThe kinds of model a new user brings "
    '(README, "Converting your own model"): '
    "a LeNet4 written by Keras 2 (`tf_keras`) as `.h5` and as a SavedModel directory, "
    "its reference being `tf_keras`' outputs (`make keras2-files`); a Sequential of "
    "Sequential blocks; a siamese net (a nested encoder and a Dense shared by two inputs); "
    "MobileNetV2 without its top, called as a layer after augmentation layers; an image and "
    "a vector in with a dict of three outputs; an image flattened and joined with a vector; "
    'a decoder head; every uneven TensorFlow "same" padding in one model; a conv autoencoder, '
    "the common CNN head with a Dropout, a WaveNet-style stack on one channel (each broke a "
    "first try before issue 26); a clip of frames through TimeDistributed convs and "
    "UpSampling1D, an encoder-decoder whose encoder states seed the decoder, a model with "
    "dicts in and out, masked sequences into recurrent layers and attention (issue 23).\n\n"
)
HUB_SECTION = (
    "\n## keras-hub backbones\n\nkeras-hub 0.32's backbones from small configs, every weight "
    "randomized (`models/hub.py`).\n\n"
)


def _weights(found: dict | None) -> str:
    """'yes (N)': every one of the N Keras weights told apart by value is in an
    nn.Parameter and in no buffer (``torch_stage.keras_weights``); 'NO' and how many not."""
    if not found:
        return "-"
    good, judged = weights_found(found)
    return f"yes ({judged})" if found["passed"] else f"NO ({judged - good} of {judged})"


def _anchor(row: dict) -> str:
    """The float64 copy's seconds in export, "later" (a later stage's comparison needed it),
    "not needed" (no comparison did: pipeline.anchor_later), or "none" (it could not be
    made: rule 2 is then not offered)."""
    note = str(row.get("anchor", ""))
    if row.get("anchor_seconds") is not None and note.startswith("stored"):
        return f"{row['anchor_seconds']:.1f}"
    if note.startswith("deferred"):
        return "later" if row.get("anchor_later") else "not needed"
    return "none" if note else "-"


# docs/zoo.md: what make zoo writes sits between these; the notes after them are by hand
BEGIN = "<!-- written by `make zoo`: edits between these markers are lost -->\n"
END = "<!-- end of what `make zoo` writes; the notes below are kept -->\n"


def write_doc(
    rows: list[dict], brought: tuple[str, ...], meta: dict, path: Path = Path(DOC_PATH)
) -> None:
    """The tables between ``BEGIN`` and ``END`` of ``path``, whatever else it says kept."""
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    notes = old.split(END, 1)[1] if END in old else ""
    artifacts.write_text(path, BEGIN + _generated(rows, brought, meta) + END + notes)


def _generated(rows: list[dict], brought: tuple[str, ...], meta: dict) -> str:
    return (
        "# The zoo\n\nGenerated by `make zoo` (`python -m pipeline zoo`); every row is one "
        "`python -m pipeline convert` run on this machine (2 cores; take the seconds as rough). "
        "keras.applications models are built with `weights=None` at 96x96 where allowed, every "
        "weight randomized (seed 0). Max error is the scaled error of the check, "
        "max |artifact - Keras| / max |Keras|, over every reference case (batch 1 and 4, and "
        "batch 2 at a second size for models with open sizes); the bar is 1e-5, 1e-4 for "
        "nets of more than 50 layers. Params: Keras' `count_params()` / the emitted module's "
        "parameters and module-owned buffers; the check holds the latter to Keras' count "
        "adjusted as docs/layers.md's Limits say (BatchNorm/LayerNorm without scale or center, "
        "Normalization's statistics, the recurrent `bias_hh` torch adds). Weights as parameters: "
        "every Keras weight Keras trains is found in an `nn.Parameter` of the emitted module "
        "(a seeded sample of its values, up to layout) and in no buffer; in brackets how many "
        "weights were told apart by their values (a constant one, such as an untrained zero "
        "bias, cannot be).\n\n"
        + _run_facts(meta)
        + table([r for r in rows if r["model"] not in brought and not _hub(r)])
        + "\n"
        + BROUGHT_SECTION
        + table([r for r in rows if r["model"] in brought])
        + "\n"
        + (HUB_SECTION + table([r for r in rows if _hub(r)]) + "\n" if any(map(_hub, rows)) else "")
    )


def _hub(row: dict) -> bool:
    return row["model"].startswith("hub_")


def _run_facts(meta: dict) -> str:
    """How the last full run went: conversions at once, wall time, stage start-up costs."""
    text = (
        f"Last run: {meta.get('jobs', 1)} conversion(s) at once (`make zoo JOBS=N`; each "
        "stage still its own process, so the per-stage seconds of a run with JOBS=2 on 2 "
        f"cores include waiting for a core), {meta.get('wall_seconds', '-')} s wall time "
        "for the models run. The float64 copy column is what rule 2's copy added to "
        "export's time (it is built and run on every reference case while tf2onnx "
        "converts; the rest of it overlaps).\n\n"
    )
    if meta.get("startup"):
        text += (
            "Each stage is a process and pays its imports first (`pipeline/zoo/startup.py`; "
            "median of 3 fresh interpreters, warm file cache):\n\n"
            + startup.table(meta["startup"])
            + "\n\n"
        )
    return text
