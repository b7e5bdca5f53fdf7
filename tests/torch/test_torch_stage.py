"""Stage 3 on small stage-2-form graphs: the emitted source, its weights, and its refusals."""

from __future__ import annotations

import dataclasses

import numpy as np
import onnx
import pytest
import torch
from pipeline import artifacts, forms, metadata
from pipeline import reference as ref
from pipeline.errors import MismatchError, UnsupportedError
from pipeline.forms import spatial_dropout
from pipeline.torch_stage import printing, run
from pipeline.torch_stage.lowering import spatial
from pipeline.torch_stage.verify import load_module

from tests.graphs import init, model, node, reference_of, value

RNG = np.random.default_rng(4)


def _small_cnn() -> onnx.ModelProto:
    """The form stage 2 hands over: NCHW input, Conv/Relu/MaxPool/Flatten/Gemm."""
    return model(
        [
            node(
                "Conv",
                ["x", "conv.weight", "conv.bias"],
                ["conv"],
                layer="conv",
                cls="Conv2D",
                pads=[1, 1, 1, 1],
                kernel_shape=[3, 3],
            ),
            node("Relu", ["conv"], ["conv_relu"], layer="conv", cls="Conv2D"),
            node(
                "MaxPool",
                ["conv_relu"],
                ["pool"],
                layer="pool",
                cls="MaxPooling2D",
                kernel_shape=[2, 2],
                strides=[2, 2],
            ),
            node("Flatten", ["pool"], ["flatten"], layer="flatten", cls="Flatten", axis=1),
            node(
                "Gemm",
                ["flatten", "fc.weight", "fc.bias"],
                ["fc"],
                layer="fc",
                cls="Dense",
                transB=1,
            ),
            node("Softmax", ["fc"], ["probs"], layer="probs", cls="Activation", axis=-1),
        ],
        [value("x", ["batch", 2, 6, 6])],
        [value("probs", ["batch", 5])],
        [
            init("conv.weight", RNG.standard_normal((4, 2, 3, 3)).astype(np.float32)),
            init("conv.bias", RNG.standard_normal(4).astype(np.float32)),
            init("fc.weight", RNG.standard_normal((5, 36)).astype(np.float32)),
            init("fc.bias", RNG.standard_normal(5).astype(np.float32)),
        ],
        metadata={metadata.MODEL_NAME: "small_cnn", metadata.PARAM_COUNT: "261"},
    )


def _write(tmp_path, proto, reference=None):
    onnx.save(proto, tmp_path / artifacts.STAGE2)
    ref.save(tmp_path / artifacts.REFERENCE, reference or reference_of(proto))
    return tmp_path / artifacts.STAGE2


def test_emitted_source_is_plain_pytorch(tmp_path):
    report = run(_write(tmp_path, _small_cnn()), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "class SmallCnn(nn.Module):" in text
    for line in (
        "self.conv = nn.Conv2d(2, 4, kernel_size=3, padding=1)",
        "self.pool = nn.MaxPool2d(2)",
        "self.flatten = nn.Flatten()",
        "self.fc = nn.Linear(36, 5)",
        "x = self.conv(x)",
        "x = torch.relu_(x)  # conv (Conv2D)",  # in place: nothing else reads the conv
        "x = torch.softmax(x, dim=-1)  # probs (Activation)",
    ):
        assert line in text, line
    assert "onnx" not in text.replace("stage2.onnx", "")
    assert report.passed
    assert report.details["module_types"] == ["Conv2d", "Flatten", "Linear", "MaxPool2d"]
    assert report.details["param_count"] == 261 and report.details["frozen_param_count"] == 0
    assert report.details["torch_export_error"] is None
    assert max(c.max_rel for c in report.comparisons) <= 1e-5


def test_weights_load_with_weights_only_and_keras_names(tmp_path):
    run(_write(tmp_path, _small_cnn()), tmp_path)
    state = torch.load(tmp_path / artifacts.WEIGHTS, weights_only=True)
    assert sorted(state) == ["conv.bias", "conv.weight", "fc.bias", "fc.weight"]
    module = load_module(tmp_path / artifacts.MODEL_PY, tmp_path / artifacts.WEIGHTS)
    assert all(isinstance(p, torch.nn.Parameter) for p in module.parameters())


def test_op_without_native_module_names_node_and_layer(tmp_path):
    """ArgMax: onnx2torch converts it, but no torch form of ours writes its wrapper."""
    proto = model(
        [node("ArgMax", ["x"], ["y"], layer="picked", cls="Lambda", axis=1)],
        [value("x", ["batch", 3])],
        [value("y", ["batch", 1], onnx.TensorProto.INT64)],
        [],
    )
    with pytest.raises(UnsupportedError, match=r"node 'y' \(ArgMax\) of Keras layer 'picked'"):
        run(_write(tmp_path, proto), tmp_path)
    assert not (tmp_path / artifacts.MODEL_PY).exists()
    assert not (tmp_path / artifacts.WEIGHTS).exists()


def test_mismatch_writes_nothing_in_out_and_keeps_its_files_in_failed(tmp_path):
    proto = _small_cnn()
    good = reference_of(proto)
    shifted = {
        name: dataclasses.replace(case, outputs={k: v + 0.01 for k, v in case.outputs.items()})
        for name, case in good.cases.items()
    }
    with pytest.raises(MismatchError, match=r"model.py \[batch1\] probs: max abs .* MISMATCH"):
        run(_write(tmp_path, proto, dataclasses.replace(good, cases=shifted)), tmp_path)
    leftovers = sorted(p.name for p in tmp_path.iterdir())
    assert leftovers == [artifacts.FAILED, artifacts.REFERENCE, artifacts.STAGE2]
    kept = sorted(p.name for p in (tmp_path / artifacts.FAILED).iterdir())
    made = [artifacts.MODEL_ONNX, artifacts.MODEL_PT2, artifacts.MODEL_PY, artifacts.WEIGHTS]
    assert kept == sorted([*made, artifacts.REFERENCE, artifacts.STAGE2])
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_constructor_writes_only_non_defaults():
    assert (
        printing.constructor(torch.nn.Conv2d(3, 8, 3, stride=2, bias=False))
        == "nn.Conv2d(3, 8, kernel_size=3, stride=2, bias=False)"
    )
    assert printing.constructor(torch.nn.MaxPool2d(3, stride=2)) == "nn.MaxPool2d(3, stride=2)"
    assert printing.constructor(torch.nn.Linear(4, 2)) == "nn.Linear(4, 2)"


def _branchy() -> onnx.ModelProto:
    """Residual add, channel concat, a per-channel constant, zero padding and a crop."""
    return model(
        [
            node("Conv", ["x", "a.weight"], ["a"], layer="a", cls="Conv2D", pads=[1, 1, 1, 1]),
            node("Relu", ["a"], ["b"], layer="b", cls="ReLU"),
            node("Add", ["a", "b"], ["s"], layer="s", cls="Add"),
            node("Mul", ["s", "scale"], ["m"], layer="m", cls="Multiply"),
            node("Concat", ["m", "x"], ["c"], layer="c", cls="Concatenate", axis=1),
            node("Pad", ["c", "pads"], ["p"], layer="p", cls="ZeroPadding2D"),
            node("Slice", ["p", "starts", "ends", "axes"], ["y"], layer="y", cls="Cropping2D"),
        ],
        [value("x", ["batch", 2, 5, 5])],
        [value("y", ["batch", 5, 6, 5])],
        [
            init("a.weight", RNG.standard_normal((3, 2, 3, 3)).astype(np.float32)),
            init("scale", RNG.standard_normal((1, 3, 1, 1)).astype(np.float32)),
            init("pads", np.array([0, 0, 1, 0, 0, 0, 1, 2], np.int64)),
            init("starts", np.array([1, 0], np.int64)),
            init("ends", np.array([2**63 - 1, -2], np.int64)),
            init("axes", np.array([2, 3], np.int64)),
        ],
        metadata={metadata.PARAM_COUNT: "54"},  # the 3-value constant buffer is no weight
    )


def test_tensor_ops_are_written_as_plain_torch(tmp_path):
    report = run(_write(tmp_path, _branchy()), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    for line in (
        "self.register_buffer('m_const', torch.empty([1, 3, 1, 1], dtype=torch.float32))",
        "self.p = nn.ZeroPad2d((0, 2, 1, 1))",
        "z = torch.relu(y)  # b (ReLU)",
        "y = y + z  # s (Add)",
        "y = y * self.m_const  # m (Multiply)",
        "y = torch.cat([y, x], dim=1)  # c (Concatenate)",
        "y = y[:, :, 1:, :-2]  # y (Cropping2D)",
    ):
        assert line in text, line
    assert report.passed and max(c.max_rel for c in report.comparisons) <= 1e-5
    state = torch.load(tmp_path / artifacts.WEIGHTS, weights_only=True)
    assert sorted(state) == ["a.weight", "m_const"]
    assert report.details["param_count"] == 54 and report.details["constant_count"] == 3


def test_swish_is_written_as_silu(tmp_path):
    proto = model(
        [
            node("Sigmoid", ["x"], ["s"], layer="act", cls="Activation"),
            node("Mul", ["x", "s"], ["m"], layer="act", cls="Activation"),
            node("Add", ["m", "shift"], ["y"], layer="shift", cls="Rescaling"),
        ],
        [value("x", ["batch", 3])],
        [value("y", ["batch", 3])],
        [init("shift", np.array(-0.5, np.float32))],
    )
    report = run(_write(tmp_path, proto), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "x = nn.functional.silu(x)  # act (Activation)" in text
    assert "x = x - 0.5  # shift (Rescaling)" in text
    assert "sigmoid" not in text and report.passed


def test_a_model_that_is_the_identity_returns_a_copy_of_its_input(tmp_path):
    """GaussianNoise alone (fuzz seed 3185): tf2onnx's one output Identity, which onnx2torch
    wraps as a clone module with no native form, is ``x.clone()``."""
    proto = model(
        [node("Identity", ["x"], ["y"], layer="noise", cls="GaussianNoise")],
        [value("x", ["batch", 3])],
        [value("y", ["batch", 3])],
    )
    report = run(_write(tmp_path, proto), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "x = x.clone()  # noise (GaussianNoise)" in text
    assert report.passed and max(c.max_abs for c in report.comparisons) == 0.0


def test_a_keras_weight_outside_any_module_is_a_parameter(tmp_path):
    """ConvNeXt's LayerScale: x * gamma, gamma a Keras weight -> nn.Parameter, not a buffer."""
    gamma = init("scale.input1", np.arange(1, 4, dtype=np.float32))
    gamma.doc_string = metadata.KERAS_WEIGHT
    proto = model(
        [node("Mul", ["x", "scale.input1"], ["scale"], layer="scale", cls="LayerScale")],
        [value("x", ["batch", 3])],
        [value("scale", ["batch", 3])],
        [gamma],
        metadata={metadata.PARAM_COUNT: "3"},
    )
    report = run(_write(tmp_path, proto), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "self.scale_weight = nn.Parameter(torch.empty([3], dtype=torch.float32))" in text
    assert "x = x * self.scale_weight  # scale (LayerScale)" in text
    assert report.passed and report.details["param_count"] == 3
    assert report.details["constant_count"] == 0 and report.details["frozen_param_count"] == 0


def test_prelu_after_a_dense_is_nn_prelu(tmp_path):
    alpha = init("act.weight", np.array([0.1, 0.2, 0.3], np.float32))
    alpha.doc_string = metadata.KERAS_WEIGHT
    proto = model(
        [node("PRelu", ["x", "act.weight"], ["act"], layer="act", cls="PReLU")],
        [value("x", ["batch", 3])],
        [value("act", ["batch", 3])],
        [alpha],
        metadata={metadata.PARAM_COUNT: "3"},
    )
    report = run(_write(tmp_path, proto), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "self.act = nn.PReLU(3)" in text
    assert report.passed and report.details["module_types"] == ["PReLU"]


def _gelu(x: str, y: str) -> list:
    """Exact GELU as stage 1 writes it: (0.5 * x) * (1 + erf(x * 0.7071))."""
    chain = [("Mul", [x, "r"], "q"), ("Erf", ["q"], "e"), ("Add", ["e", "o"], "e1")]
    chain += [("Mul", [x, "h"], "hx"), ("Mul", ["hx", "e1"], y)]
    return [node(op, inputs, [out]) for op, inputs, out in chain]


def _swish_gelu_branch():
    """Swish, exact GELU, a per-element PRelu and a hard sigmoid."""
    scalars = [
        init(n, np.array(v, np.float32)) for n, v in (("h", 0.5), ("o", 1.0), ("r", 0.5**0.5))
    ]
    swish = [node("Sigmoid", ["x"], ["s"]), node("Mul", ["x", "s"], ["sw"])]
    tail = [
        node("PRelu", ["g", "alpha"], ["p"]),
        node("HardSigmoid", ["p"], ["y"], alpha=0.2, beta=0.5),
    ]
    return model(
        [*swish, *_gelu("sw", "g"), *tail],
        [value("x", ["batch", 3, 4])],
        [value("y", ["batch", 3, 4])],
        [*scalars, init("alpha", RNG.standard_normal((3, 4)).astype(np.float32))],
    )


def _reshape_copying_dims():
    """A Reshape that copies two open dims (ONNX 0) and infers the last (fold_shapes' form
    of ``[N, T, -1]``): ``x.reshape(x.shape[0], x.shape[1], -1)``."""
    return model(
        [node("Reshape", ["x", "target"], ["y"])],
        [value("x", ["batch", "steps", 3, 4])],
        [value("y", ["batch", "steps", 12])],
        [init("target", np.array([0, 0, -1], np.int64))],
    )


def _split_halves():
    """Equal halves and [1, 3] parts of the channels (``x.chunk``, ``torch.split``)."""
    return model(
        [
            node("Split", ["x"], ["a", "b"], axis=1),
            node("Split", ["x", "sizes"], ["c", "d"], axis=1),
            node("Concat", ["b", "a", "d", "c"], ["y"], axis=1),
        ],
        [value("x", ["batch", 4, 3])],
        [value("y", ["batch", 8, 3])],
        [init("sizes", np.array([1, 3], np.int64))],
    )


ULPS = 2  # fused vs composed activation kernels: rounding differs by CPU


@pytest.mark.parametrize(
    ("graph", "shape"),
    [
        (_branchy, (2, 2, 5, 5)),
        (_swish_gelu_branch, (2, 3, 4)),
        (_reshape_copying_dims, (2, 5, 3, 4)),
        (_split_halves, (2, 4, 3)),
    ],
)
def test_lowering_leaves_plain_torch_that_computes_the_same(graph, shape):
    """Lowering replaces every onnx2torch wrapper; the lowered GraphModule (whose expression
    modules run the very text model.py gets) computes what onnx2torch's did, to the last
    bits: a fused kernel (``F.silu`` for ``x * sigmoid(x)``) rounds like the composed form on
    some CPUs and one ulp apart on others (seen on an AVX2 machine), hence ULPS."""
    from onnx2torch import convert
    from onnx2torch.utils.common import OnnxToTorchModule
    from pipeline.torch_stage import lowering

    gm = convert(graph(), save_input_names=True)
    x = torch.from_numpy(RNG.standard_normal(shape).astype(np.float32))
    expected = gm(x)
    counts = lowering.lower(gm)
    assert counts["wrappers"] > 0
    assert not any(isinstance(m, OnnxToTorchModule) for m in gm.modules())
    torch.testing.assert_close(gm(x), expected, rtol=ULPS * torch.finfo(torch.float32).eps, atol=0)


@pytest.mark.parametrize(
    ("pads", "expected"),
    [
        ([1, 2], "ZeroPad1d((1, 2))"),
        ([1, 2, 0, 0, 0, 0, 0, 0], "ZeroPad1d((1, 2))"),  # NCHW: W only
        ([0, 2, 1, 1, 0, 0, 0, 0], "ZeroPad2d((0, 2, 1, 1))"),  # NCHW: H and W
        ([0, 0, 0, 2, 0, 1], "ZeroPad3d((0, 0, 0, 2, 0, 1))"),  # NHWC without the batch
        ([0, 0, 1, 0, 0, 0, 1, 0], None),  # four dims: no module pads them
    ],
)
def test_pads_become_the_smallest_padding_module(pads, expected):
    """Found by the fuzzer (seeds 105, 113): pads of a channels-last sequence or image."""
    module = spatial._pad_module(pads, "constant", 0.0)
    assert (None if module is None else repr(module).replace("padding=", "")) == expected


def _dropouts() -> onnx.ModelProto:
    """Dropout(0.3) then SpatialDropout2D(0.25) as stage 1 writes them (channels first)."""
    rate = init("drop_ratio", np.float32(0.3))
    nodes = [
        node("Dropout", ["x", "drop_ratio"], ["drop"], layer="drop", cls="Dropout"),
        node(
            spatial_dropout.OP_TYPE,
            ["drop"],
            ["spatial"],
            layer="spatial",
            cls="SpatialDropout2D",
            domain=forms.DOMAIN,
            ratio=0.25,
        ),
    ]
    graph = onnx.helper.make_graph(
        nodes, "g", [value("x", ["batch", 4, 6, 6])], [value("spatial", ["batch", 4, 6, 6])]
    )
    graph.initializer.append(rate)
    opsets = [onnx.helper.make_opsetid("", 17), onnx.helper.make_opsetid(forms.DOMAIN, 1)]
    proto = onnx.helper.make_model(graph, opset_imports=opsets)
    proto.functions.append(spatial_dropout.function(17))
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    return proto


def test_dropouts_are_kept_active_in_train_and_identity_in_eval(tmp_path):
    """Keras trains with its Dropout layers: model.py keeps them, with Keras' rate (0.3, not
    float32's 0.30000001), each whole channel dropped by the spatial one."""
    report = run(_write(tmp_path, _dropouts()), tmp_path)
    text = (tmp_path / artifacts.MODEL_PY).read_text()
    assert "self.drop = nn.Dropout(p=0.3)" in text
    assert "self.spatial = nn.Dropout2d(p=0.25)" in text
    assert report.passed and report.details["module_types"] == ["Dropout", "Dropout2d"]
    module = load_module(tmp_path / artifacts.MODEL_PY, tmp_path / artifacts.WEIGHTS)
    x = torch.ones(64, 4, 6, 6)
    assert torch.equal(module.eval()(x), x)
    torch.manual_seed(0)
    module.train()
    element = module.drop(x)
    assert 0.25 < float((element == 0).float().mean()) < 0.35
    channels = module.spatial(x).reshape(64 * 4, 36)
    whole = (channels == 0).all(dim=1) | (channels == channels[:, :1]).all(dim=1)
    assert bool(whole.all()) and 0.2 < float((channels[:, 0] == 0).float().mean()) < 0.3
