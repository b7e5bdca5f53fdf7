"""The check stage's table: one row per comparison, then the torch module's facts and
where each comparison was made (``python -m pipeline check``)."""

from __future__ import annotations

from pipeline.problems import weights_found
from pipeline.report import StageReport


def table(report: StageReport) -> str:
    """One row per comparison: the scaled error against Keras float32 (rule "float32": at
    most tol) and, with the float64 anchor, the artifact's and Keras float32's errors against
    the float64 copy (rule "float64": the first at most ANCHOR_FACTOR times the second)."""
    header = ("artifact", "case", "output", "max abs", "scaled", "tol", "vs float64", "keras64")
    rows = [(*header, "result")]
    for c in report.comparisons:
        anchor = (
            (f"{c.exact_rel:.2e}", f"{c.keras_exact_rel:.2e}")
            if c.exact_rel is not None
            else ("-", "-")
        )
        verdict = f"ok ({c.rule})" if c.passed and c.rule in ("float64", "exact") else "ok"
        rows.append(
            (
                c.artifact,
                c.case,
                c.output,
                f"{c.max_abs:.2e}",
                f"{c.max_rel:.2e}",
                f"{c.tol:.0e}",
                *anchor,
                verdict if c.passed else "MISMATCH",
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    return "\n".join([*lines, *_torch_lines(report.details["torch"]), _where(report.details)])


def _where(details: dict) -> str:
    """Which comparisons the stages made (their files unchanged since) and which ran here."""
    done = details.get("recorded", {})
    kept = [stage for stage, taken in done.items() if taken]
    here = [stage for stage, taken in done.items() if not taken]
    said = []
    if here:
        said.append(f"run again here for the {', '.join(here)} stage(s)")
    if kept:
        said.append(
            f"as the {', '.join(kept)} stage(s) recorded them, their files unchanged "
            "(`python -m pipeline check --recheck` runs them again)"
        )
    return "comparisons: " + "; ".join(said)


def _torch_lines(torch_result: dict) -> list[str]:
    """The digits accuracy, and the module's kinds, counts and exports."""
    lines = [
        f"{a['case']} ({a['samples']} samples): Keras accuracy "
        f"{a['keras_accuracy']:.2%}, torch {a['accuracy']:.2%}, top-1 agreement "
        f"{a['top1_agreement']:.2%}"
        for a in torch_result["accuracy"]
    ]
    constants = torch_result.get("constant_count")
    fixed = "".join(
        f" ({name} axis {axis} fixed at {size} in model.pt2 and model.onnx)"
        for name, sizes in torch_result.get("deploy_fixed_axes", {}).items()
        for axis, size in sizes.items()
    )
    lines.append(
        f"torch module: {', '.join(torch_result['module_types'])}; "
        f"{torch_result['param_count']} parameters (Keras {torch_result['keras_param_count']})"
        + (f", {constants} constant values" if constants else "")
        + _weights_note(torch_result.get("weights_as_parameters"))
        + f"; torch.export: {'ok' if not torch_result['torch_export_error'] else 'FAILS'}"
        + fixed
    )
    penalty = torch_result.get("regularization")
    if penalty:
        mine = f"{penalty['torch']:.6g}" if penalty["torch"] is not None else "raises"
        mine += f" ({penalty['missing']})" if "missing" in penalty else ""
        lines.append(f"regularization_loss(): {mine}, Keras' penalty {penalty['keras']:.6g}")
    return lines


def _weights_note(result: dict | None) -> str:
    """'; Keras weights in nn.Parameters: 10 of 10 (2 constant, not told apart)'."""
    if not result:
        return ""
    good, judged = weights_found(result)
    note = f"; Keras weights in nn.Parameters: {good} of {judged}"
    return note + (
        f" ({result['constant']} constant, not told apart)" if result["constant"] else ""
    )
