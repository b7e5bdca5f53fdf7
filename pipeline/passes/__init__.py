"""Stage 2, passes: ``stage1.onnx`` -> ``stage2.onnx``, the form onnx2torch turns into native
``torch.nn`` modules. onnx / onnx-ir / onnxruntime only.

``python -m pipeline passes stage1.onnx stage2.onnx [--reference reference.npz]``
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import onnx
import onnx_ir as ir
from onnx_ir.passes import common

from pipeline import anchor_later, artifacts, failed, hashing, progress
from pipeline import reference as ref
from pipeline.errors import BadInputError, MismatchError
from pipeline.passes import postcheck
from pipeline.passes._base import RemoveUnusedNodes, op_histogram
from pipeline.passes.cancel_transposes import CancelTransposes
from pipeline.passes.canonical_order import CanonicalOrder
from pipeline.passes.channel_norm import ChannelLayerNorm
from pipeline.passes.conv1d import Conv1d
from pipeline.passes.conv_bias import ConvBias
from pipeline.passes.conv_transpose import SplitAsymmetricConvTranspose
from pipeline.passes.dense_reshape import DenseReshape
from pipeline.passes.driver import pass_name, run_checked, to_proto
from pipeline.passes.flatten_dense import FlattenDense
from pipeline.passes.fold_shapes import FoldShapes
from pipeline.passes.gemm import MatMulAddToGemm
from pipeline.passes.leftover import transposes_left
from pipeline.passes.naming import NameAfterKeras
from pipeline.passes.nchw_input import NchwInput
from pipeline.passes.nchw_output import NchwOutput
from pipeline.passes.pointwise_conv import PointwiseConv
from pipeline.passes.reshape_chains import ReshapeChains
from pipeline.passes.reshape_dims import ReshapeDims
from pipeline.passes.reshape_transpose import ReshapeAsTranspose
from pipeline.passes.shape_like import ShapeLike
from pipeline.passes.sink_transposes import SinkTransposes
from pipeline.passes.squeeze_flatten import SqueezeToFlatten
from pipeline.passes.tensordot import Tensordot
from pipeline.passes.transpose_down import TransposesPastElementwise
from pipeline.passes.zero_bias import RestoreZeroBiases
from pipeline.report import StageReport


def _named(pass_: ir.passes.PassBase, name: str) -> ir.passes.PassBase:
    pass_.NAME = name
    return pass_


# The pass order, and why each pass sits where it does. Passes keep no state between runs,
# so the list is a constant.
DEFAULT_PASSES: tuple[ir.passes.PassBase, ...] = (
    # Static shapes on every value: fold_shapes and flatten_dense read C, H, W.
    _named(common.ShapeInferencePass(), "infer_shapes"),
    # A Reshape's -1 named as the input dim it is (MiT's batch, through tokens and maps).
    ReshapeDims(),
    # A Dense on a sequence: Reshape/MatMul/Reshape (shapes computed) -> one MatMul. Before
    # fold_shapes, which would otherwise try (and fail) to fold those Reshapes.
    Tensordot(),
    # ... and the shape sub-graph its Reshapes read goes.
    _named(RemoveUnusedNodes(), "remove_unused"),
    # tf2onnx's Flatten, Reshape(x, Concat(Shape(x)[0:1], -1)) in forms that vary with
    # PYTHONHASHSEED, becomes Flatten before anything pattern-matches on Flatten.
    FoldShapes(),
    # What stays computed from another tensor's size (a class token tiled to the batch,
    # position embeddings cut to the input's length) becomes one call that says so.
    ShapeLike(),
    # ... and the shape sub-graphs they evaluated go.
    _named(RemoveUnusedNodes(), "remove_unused"),
    # GlobalAveragePool + Squeeze -> + Flatten (a native nn.Flatten).
    SqueezeToFlatten(),
    # A Reshape of a Reshape is one, one to its input's shape none (TimeDistributed pairs).
    ReshapeChains(),
    # A Reshape moving only size-1 axes (tf2onnx's Transpose on one channel) -> Transpose.
    ReshapeAsTranspose(),
    # Conv1D/MaxPooling1D: the 2-D op over a height of 1 -> the 1-D op, so that the
    # input's layout change below is a plain Transpose(0,2,1).
    Conv1d(),
    # The NHWC input's Transpose (or C==1 Reshape) goes; the interface becomes NCHW.
    NchwInput(),
    # An NHWC output's Transpose goes too; the output becomes NCHW, declared.
    NchwOutput(),
    # A Transpose moves below the Dropouts and activations after it (tf2onnx stops at a
    # Dropout), to meet the Flatten, inverse Transpose or graph output the passes below take.
    TransposesPastElementwise(),
    # Back-to-back Transposes merge, so that a layout change read by a Flatten and by a
    # branch that goes back channels-first (a SpatialDropout) is read by the Flatten alone.
    _named(CancelTransposes(), "cancel_transposes_early"),
    # The Transpose before Flatten goes into the first Dense kernel's rows. Before the
    # Gemm fusion, so the kernel is still the plain [H*W*C, out] MatMul operand.
    FlattenDense(),
    # Its inverse: a Dense reshaped into a feature map (a decoder head) computes the map
    # channels-first, its kernel's columns re-ordered; the Transpose before the Conv goes.
    DenseReshape(),
    # A region left channels-last between Transposes (stage 1's PRelu, ConvNeXt's LayerNorm
    # and Dense on channels, its residual stream) runs channels-first; its Transposes go,
    # but for a local pair around each op that works on the channel axis itself ...
    SinkTransposes(),
    # ... which these two turn into channels-first ops: a LayerNorm on the channels ...
    ChannelLayerNorm(),
    # ... and a Dense on the channels, a 1x1 Conv (taking its bias Add).
    PointwiseConv(),
    # Whatever the removals left back to back merges or disappears.
    CancelTransposes(),
    # A per-channel Add the moved Transposes left right after a conv: its bias.
    ConvBias(),
    # An output sink_transposes made channels-first again (PReLU as the last layer) too.
    _named(NchwOutput(), "nchw_output_again"),
    # Dense = MatMul + Add -> Gemm(transB=1): nn.Linear with parameters, not buffers.
    MatMulAddToGemm(),
    # TensorFlow's uneven "same" crop of a transposed conv: symmetric pads + a Slice.
    SplitAsymmetricConvTranspose(),
    # A zero bias tf2onnx dropped comes back (after the Gemm fusion, which sees no Add).
    RestoreZeroBiases(),
    # Drop what the rewrites orphaned; sort in one order whatever order tf2onnx wrote
    # (the Keras layer order where the dependencies allow); re-infer shapes for Netron.
    _named(RemoveUnusedNodes(), "remove_unused"),
    CanonicalOrder(),
    _named(common.ShapeInferencePass(), "reinfer_shapes"),
    # Names last, so the nodes the passes made get Keras names too (and the shapes
    # inferred just before get the stable dim names).
    NameAfterKeras(),
)


def load_onnx(path: Path) -> ir.Model:
    artifacts.require_file(path, "ONNX model", "Run the export stage first.")
    try:
        proto = onnx.load(path)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise BadInputError(f"'{path}' is not an ONNX model: {exc}") from exc
    if not proto.graph.node:
        raise BadInputError(f"'{path}' is not an ONNX model (no graph nodes).")
    return ir.from_proto(proto)


def _read(reference: Path | None) -> list[str]:
    """reference.npz and (if a comparison needed it) anchor.npz, for the check's record."""
    return [] if reference is None else [str(reference), str(anchor_later.path_for(reference))]


def run(
    src: Path, dst: Path, reference: Path | None = None, every_pass: bool = False
) -> StageReport:
    src, dst = Path(src), Path(dst)
    with artifacts.stage_outputs([dst, dst.parent / artifacts.PASSES_REPORT]):
        return _run(src, dst, reference, every_pass)


def _run(src: Path, dst: Path, reference: Path | None, every_pass: bool) -> StageReport:
    start = time.perf_counter()
    model = load_onnx(src)
    hashing.hash_soon(src, *([reference] if reference is not None else []))  # for the report
    reference_data = ref.load(reference) if reference is not None else None
    before = op_histogram(model.graph)
    progress.step("%d passes over %d nodes", len(DEFAULT_PASSES), len(model.graph))
    # before the check, so that the bytes checked are the bytes written
    model.metadata_props["pipeline.passes"] = json.dumps([pass_name(p) for p in DEFAULT_PASSES])
    try:
        records, comparisons, checked = run_checked(
            model,
            DEFAULT_PASSES,
            reference_data,
            artifacts.STAGE2,
            every_pass,
            original=lambda: load_onnx(src),  # the input again, only should the check fail
        )
    except MismatchError as exc:  # the graph as the passes left it, for diagnose and Netron
        raise failed.keep(
            "passes",
            dst.parent,
            lambda to: onnx.save(to_proto(model), to / artifacts.STAGE2),
            exc,
            src.parent,
        ) from exc
    postcheck.ensure_stage3_ready(model.graph)
    after = op_histogram(model.graph)
    with artifacts.atomic_path(dst) as tmp:
        tmp.write_bytes(checked)
    report = StageReport(
        "passes",
        {"stage2": str(dst)},
        time.perf_counter() - start,
        tuple(comparisons),
        details={
            "ops_before": dict(sorted(before.items())),
            "ops_after": dict(sorted(after.items())),
            "transposes_left": transposes_left(model, records),
            "passes": [r.to_json() for r in records],
            "checked_every_pass": every_pass,
        },
        inputs=(str(src), *_read(reference if reference_data is not None else None)),
    )
    artifacts.write_json(dst.parent / artifacts.PASSES_REPORT, report.to_json())
    return report
