"""One Keras layer at a time (``models/layers.py``, ``MODEL=layer:<class>``), end to end: the
ONNX ops stage 1 writes for the layer, the ops stage 2 leaves in the whole graph, the torch
modules ``model.py`` is made of, and the parameter count (equal to Keras'), with every stage
within tolerance. A new layer adds its row here (README, "Adding a Keras layer")."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

import onnx
import pytest

from pipeline import artifacts

ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2  # conversions at once (each is four stage processes one after the other)


class Layer(NamedTuple):
    export_ops: list[str]  # the ops of stage1.onnx's nodes of the Keras layer "layer"
    stage2_ops: dict[str, int]  # stage2.onnx's op histogram
    modules: list[str]  # the torch.nn module kinds of model.py
    params: int  # parameters of model.py (the check holds them equal to Keras')


EXPECTED = {
    "Conv2D": Layer(["Conv", "Transpose"], {"Conv": 1}, ["Conv2d"], 112),
    "DepthwiseConv2D": Layer(["Conv", "Transpose"], {"Conv": 1}, ["Conv2d"], 30),
    "Dense": Layer(["Add", "MatMul"], {"Gemm": 1}, ["Linear"], 28),
    "BatchNormalization": Layer(
        ["BatchNormalization", "Transpose"],
        {"BatchNormalization": 1, "Conv": 1},
        ["BatchNorm2d", "Conv2d"],
        128,
    ),
    "MaxPooling2D": Layer(
        ["MaxPool", "Transpose"], {"Conv": 1, "MaxPool": 1}, ["Conv2d", "MaxPool2d"], 112
    ),
    "GlobalAveragePooling2D": Layer(
        ["GlobalAveragePool", "Squeeze"],
        {"Conv": 1, "Flatten": 1, "GlobalAveragePool": 1},
        ["AdaptiveAvgPool2d", "Conv2d", "Flatten"],
        112,
    ),
    "GlobalMaxPooling2D": Layer(
        ["GlobalMaxPool", "Squeeze"],
        {"Conv": 1, "Flatten": 1, "GlobalMaxPool": 1},
        ["AdaptiveMaxPool2d", "Conv2d", "Flatten"],
        112,
    ),
    # The PReLU's output is the model's: its region reaches a graph output, so it stays
    # channels-last (one Transpose) and its alpha is a per-element parameter (README, Limits).
    "PReLU": Layer(["PRelu"], {"Conv": 1, "PRelu": 1, "Transpose": 1}, ["Conv2d"], 116),
    "Conv1D": Layer(
        ["Add", "Conv", "Squeeze", "Transpose", "Unsqueeze"],
        {"Conv": 1, "Transpose": 1},
        ["Conv1d"],
        40,
    ),
    "GlobalAveragePooling1D": Layer(
        ["GlobalAveragePool", "Squeeze"],
        {"Conv": 1, "Flatten": 1, "GlobalAveragePool": 1},
        ["AdaptiveAvgPool1d", "Conv1d", "Flatten"],
        40,
    ),
    "GlobalMaxPooling1D": Layer(
        ["GlobalMaxPool", "Squeeze"],
        {"Conv": 1, "Flatten": 1, "GlobalMaxPool": 1},
        ["AdaptiveMaxPool1d", "Conv1d", "Flatten"],
        40,
    ),
    "LayerNormalization": Layer(
        ["LayerNormalization"], {"LayerNormalization": 1}, ["LayerNorm"], 6
    ),
    "Embedding": Layer(["Gather"], {"Gather": 1}, ["Embedding"], 80),
    "LSTM": Layer(["KerasLSTMForwardLast"], {"KerasLSTMForwardLast": 1}, ["LSTM"], 144),
    "GRU": Layer(["KerasGRUForwardSequence"], {"KerasGRUForwardSequence": 1}, ["GRU"], 108),
    "MultiHeadAttention": Layer(
        ["KerasMultiHeadAttention"],
        {"KerasMultiHeadAttention": 1},
        ["MultiheadAttention", "NonDynamicallyQuantizableLinear"],
        288,
    ),
}


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    root = tmp_path_factory.mktemp("layers")

    def convert(case: str):
        out = root / case
        command = [sys.executable, "-m", "pipeline", "convert", f"layer:{case}", str(out)]
        return case, (out, subprocess.run(command, cwd=ROOT, capture_output=True, text=True))

    with ThreadPoolExecutor(WORKERS) as pool:
        return dict(pool.map(convert, EXPECTED))


def _facts(out: Path) -> Layer:
    stage1, stage2 = (onnx.load(out / name) for name in (artifacts.STAGE1, artifacts.STAGE2))
    torch_facts = json.loads((out / artifacts.REPORT).read_text())["torch"]
    assert torch_facts["param_count"] == torch_facts["keras_param_count"]
    return Layer(
        sorted(
            {n.op_type for n in stage1.graph.node if n.doc_string.startswith("keras_layer: layer ")}
        ),
        dict(sorted(Counter(n.op_type for n in stage2.graph.node).items())),
        torch_facts["module_types"],
        torch_facts["param_count"],
    )


@pytest.mark.parametrize("case", EXPECTED)
def test_one_layer_converts(case, converted):
    out, proc = converted[case]
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / artifacts.REPORT).read_text())["passed"]
    assert _facts(out) == EXPECTED[case]
