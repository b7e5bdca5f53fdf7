"""``make bench``: inference speed of a converted model, every framework measured alike.

Each framework runs in its own process (TensorFlow and torch cannot share one): the Keras
runner (``pipeline.bench.keras_side.run``), the torch runner (``pipeline.bench.torch_side.run``) and
onnxruntime here. Same seeded inputs, ``timing.THREADS`` threads, denormals flushed to zero,
median of repeated calls after warm-up. Writes ``bench.json`` and ``bench.png``.

``python -m pipeline bench OUT_DIR [--model MODEL]``
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import onnx
import onnxruntime as ort

from pipeline import artifacts, crash, metadata
from pipeline.bench import timing

BENCH_JSON = "bench.json"
BENCH_PNG = "bench.png"
BASELINE = "emitted model.py (NCHW)"
NAIVE = "naive onnx2torch GraphModule of stage1.onnx"
HANDWRITTEN = "hand-written LeNet4 (reference post)"
# torch_side.compiled's LABEL and AOTI_LABEL: compiled ahead, apart from the eager forms
COMPILED = (
    "emitted, torch.compile(optimize_for_inference())",
    "emitted, AOTInductor package of optimize_for_inference()",
)
TWIN = "torchvision "  # torch_side.twins.PREFIX: those modules import torchvision
VARIANT = "variant: torchvision "  # twins.KERAS_VARIANT: a twin made to compute Keras' ops
HOW = (
    f"{timing.THREADS} threads in every framework; denormals flushed to zero (torch "
    "set_flush_denormal, onnxruntime session.set_denormal_as_zero, TensorFlow's CPU default); "
    f"median of {timing.MIN_REPEAT}-{timing.MAX_REPEAT} calls after {timing.WARMUP} warm-up "
    "calls; the same input in every framework (the first sample of reference.npz, repeated to the "
    "batch size); onnxruntime with its default (all) graph optimizations."
)


def _child(module: str, *args: str) -> list[dict]:
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True)
    if proc.returncode != 0:
        out_dir = Path(args[0]) if args else Path("build")
        raise crash.child_failed(f"benchmark runner {module}", proc.stderr, out_dir, "bench")
    return json.loads(proc.stdout)


def _onnxruntime(path: Path) -> list[dict]:
    proto = onnx.load(path, load_external_data=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = timing.THREADS
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.set_denormal_as_zero", "1")
    options.log_severity_level = 3
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    meta = {p.key: p.value for p in proto.metadata_props}
    name = proto.graph.input[0].name
    perm = metadata.input_perms(meta).get(name)
    results = []
    for batch in timing.BATCH_SIZES:
        feeds = metadata.adapt_inputs(
            {name: timing.inputs(path.parent, batch)}, {name: perm} if perm else {}
        )
        stats = timing.measure(lambda f=feeds: session.run(None, f))
        results.append({"runner": f"onnxruntime on {path.name}", "batch": batch, **stats})
    return results


def run(out_dir: Path, model: str | None = None) -> dict:
    out_dir = Path(out_dir)
    artifacts.require_file(
        out_dir / artifacts.MODEL_PY, "converted model", "Run `make convert MODEL=...` first."
    )
    results = _child("pipeline.bench.keras_side.run", str(out_dir), model or out_dir.name)
    results += _onnxruntime(out_dir / artifacts.STAGE2)
    torch_side = _child("pipeline.bench.torch_side.run", str(out_dir), model or out_dir.name)
    results += torch_side.pop("results")
    for row in results:
        base = next(r for r in results if r["runner"] == BASELINE and r["batch"] == row["batch"])
        row["vs_emitted"] = row["median_ms"] / base["median_ms"]
    report = {
        "model": model or out_dir.name,
        "how": HOW,
        "results": results,
        "targets": targets(results),
        **torch_side,  # the torch.compile form's comparisons with Keras, what was not timed
    }
    artifacts.write_json(out_dir / BENCH_JSON, report)
    plot(report, out_dir / BENCH_PNG)
    return report


def targets(results: list[dict]) -> list[dict]:
    """Per batch: the emitted module as written (NCHW) and in its fastest eager
    configuration (each one model.py documents) against the naive GraphModule, for LeNet4
    the hand-written module, and for a torchvision twin that twin's fastest form; the
    compiled form against the twin too. Ratio < 1 is faster."""
    rows = []
    for batch in timing.BATCH_SIZES:
        at = {r["runner"]: r["median_ms"] for r in results if r["batch"] == batch}
        emitted = {k: v for k, v in at.items() if k.startswith("emitted") and k not in COMPILED}
        best = min(emitted, key=emitted.get)
        row = {"batch": batch, "fastest_emitted": best}
        others = [(NAIVE, "naive"), (HANDWRITTEN, "handwritten")]
        others += [(k, "torchvision_as_keras") for k in at if k.startswith(VARIANT)]
        twin = {k: v for k, v in at.items() if k.startswith(TWIN)}
        if twin:
            row["fastest_torchvision"] = min(twin, key=twin.get)
            others.append((row["fastest_torchvision"], "torchvision"))
            compiled = [at[k] for k in COMPILED if k in at]
            if compiled:
                row["compiled_vs_torchvision"] = min(compiled) / twin[row["fastest_torchvision"]]
        for other, key in others:
            if other in at:
                row[f"nchw_vs_{key}"] = at[BASELINE] / at[other]
                row[f"fastest_vs_{key}"] = emitted[best] / at[other]
        rows.append(row)
    return rows


def table(report: dict) -> str:
    lines = [f"{'runner':<52} {'batch':>5} {'median ms':>10} {'p10-p90 ms':>15} {'x emitted':>9}"]
    for r in sorted(report["results"], key=lambda r: (r["batch"], r["median_ms"])):
        spread = f"{r['p10_ms']:.3f}-{r['p90_ms']:.3f}"
        lines.append(
            f"{r['runner']:<52} {r['batch']:>5} {r['median_ms']:>10.3f} "
            f"{spread:>15} {r['vs_emitted']:>9.2f}"
        )
    for t in report["targets"]:
        vs = [
            f"{key}: as written x{t[f'nchw_vs_{key}']:.2f}, fastest x{t[f'fastest_vs_{key}']:.2f}"
            for key in ("naive", "handwritten", "torchvision", "torchvision_as_keras")
            if f"nchw_vs_{key}" in t
        ]
        if "compiled_vs_torchvision" in t:
            vs.append(f"torch.compile vs torchvision's fastest x{t['compiled_vs_torchvision']:.2f}")
        lines.append(
            f"batch {t['batch']}: emitted time / other ({'; '.join(vs)}); "
            f"fastest: {t['fastest_emitted']}"
        )
    return "\n".join([*lines, f"how: {report['how']}"])


def plot(report: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runners = list(dict.fromkeys(r["runner"] for r in report["results"]))
    fig, axes = plt.subplots(1, len(timing.BATCH_SIZES), figsize=(12, 0.6 * len(runners) + 1.5))
    for ax, batch in zip(axes, timing.BATCH_SIZES, strict=True):
        rows = {r["runner"]: r for r in report["results"] if r["batch"] == batch}
        values = [rows[name]["median_ms"] for name in runners]
        ax.barh(
            runners,
            values,
            color=["#1f77b4" if n.startswith("emitted") else "#999999" for n in runners],
        )
        ax.set_title(f"{report['model']}, batch {batch}: median ms (lower is better)")
        ax.invert_yaxis()
        if batch != timing.BATCH_SIZES[0]:
            ax.set_yticklabels([])
    fig.tight_layout()
    with artifacts.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
