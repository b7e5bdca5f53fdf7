"""The one list of what fails a conversion, shared by the torch stage and the check stage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from pipeline.compare import Comparison


def found_in(comparisons: Iterable[Comparison], torch_result: Mapping) -> list[str]:
    """Everything that makes a conversion fail, one line each: an output over its tolerance,
    a top-1 disagreement on a labelled case, a parameter count other than Keras', frozen
    parameters (requires_grad=False) other than the ones Keras freezes, a Keras weight
    that is not in an ``nn.Parameter`` (or that a buffer holds), a
    ``regularization_loss()`` other than Keras' penalty, ``torch.export``
    or ``torch.onnx.export`` failing. ``torch_result`` is what
    ``pipeline.torch_stage.verify`` found. The torch stage (before it writes) and the check
    stage hold a conversion to this one list."""
    found = [c.describe() for c in comparisons if not c.passed]
    found += [
        f"{a['case']}: top-1 agreement with Keras {a['top1_agreement']:.2%}"
        for a in torch_result["accuracy"]
        if not a["passed"]
    ]
    keras, torch_count = torch_result["keras_param_count"], torch_result["param_count"]
    if keras >= 0 and torch_count != keras:
        found.append(f"{torch_count} parameters, Keras has {keras}")
    frozen, keras_frozen = (
        torch_result["frozen_param_count"],
        torch_result["keras_frozen_param_count"],
    )
    if frozen != keras_frozen:
        found.append(f"{frozen} parameters do not require grad, Keras freezes {keras_frozen}")
    penalty = torch_result.get("regularization")
    if penalty and not penalty["passed"]:
        found.append(
            f"regularization_loss() gives {penalty['torch']}, Keras' penalty is {penalty['keras']}"
        )
    found += weights_not_parameters(torch_result.get("weights_as_parameters"))
    if torch_result["torch_export_error"]:
        found.append(f"torch.export fails: {torch_result['torch_export_error']}")
    if torch_result.get("onnx_export_error"):
        found.append(f"torch.onnx.export fails: {torch_result['onnx_export_error']}")
    return found


def weights_not_parameters(result: dict | None) -> list[str]:
    """One line per Keras weight the module does not train (``torch_stage.keras_weights``)."""
    lines = []
    for row in (result or {}).get("not_parameters", []):
        where = (
            f"its values are in buffer {', '.join(repr(b) for b in row['buffers'])}"
            if row["buffers"]
            else "its values are in no parameter"
        )
        lines.append(
            f"Keras weight '{row['weight']}' is not an nn.Parameter ({where}): fine-tuning "
            "would never move it"
        )
    return lines


def weights_found(result: dict) -> tuple[int, int]:
    """(Keras weights found in parameters, weights judged: told apart by their values)."""
    judged = result["keras_weights"] - result["constant"]
    return judged - len(result["not_parameters"]), judged
