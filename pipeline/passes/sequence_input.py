"""Video and signal-sequence inputs taken channels-first, for ``nchw_input``: a rank-5
``[N, T, H, W, C]`` input read only as channels-first frames or a channels-first sequence
becomes ``[N, T, C, H, W]``; a rank-4 ``[N, T, L, C]`` one read only as a channels-first
sequence becomes ``[N, T, C, L]``. Each returns whether it rewrote the input."""

from __future__ import annotations

import numpy as np
import onnx_ir as ir

from pipeline import metadata
from pipeline.passes._ir import add_initializer, const, only_consumer, perm

_FRAMES = (0, 1, 4, 2, 3)  # [batch, time, H, W, C] -> [batch, time, C, H, W]


def frames_to_nchw(model: ir.Model, value: ir.Value) -> bool:
    """A video input read only as frames, each channels-first (TimeDistributed(Conv2D):
    ``Transpose(Reshape(x, [-1, H, W, C]), (0, 3, 1, 2))``), or as a channels-first sequence
    (ConvLSTM2D: ``Transpose(x, (0, 1, 4, 2, 3))``): the input becomes [batch, time, C, H, W]
    (declared), each Reshape takes [-1, C, H, W]; the Transposes go."""
    if value.is_graph_output():
        return False
    frames = tuple(value.shape)[2:]
    pairs, sequences = [], []
    for node in value.consumers():
        if perm(node) == _FRAMES:
            sequences.append(node)
            continue
        target = const(node.inputs[1]) if node.op_type == "Reshape" else None
        then = only_consumer(node.outputs[0]) if target is not None else None
        if then is None or [int(t) for t in target.reshape(-1)[1:]] != list(frames):
            return False
        if perm(then) != metadata.NHWC_TO_NCHW:
            return False
        pairs.append((node, then))
    if not pairs and not sequences:
        return False
    for transpose in sequences:
        transpose.outputs[0].replace_all_uses_with(value, replace_graph_outputs=True)
        model.graph.remove(transpose, safe=True)
    for reshape, transpose in pairs:
        h, w, c = frames
        target = add_initializer(model.graph, f"{reshape.name}_nchw", np.array([-1, c, h, w]))
        reshape.replace_input_with(1, target)
        reshape.outputs[0].shape = transpose.outputs[0].shape
        transpose.outputs[0].replace_all_uses_with(reshape.outputs[0], replace_graph_outputs=True)
        model.graph.remove(transpose, safe=True)
    shape = tuple(value.shape)
    value.shape = ir.Shape([shape[p] for p in _FRAMES])
    model.metadata_props[metadata.perm_key(value.name)] = metadata.format_perm(_FRAMES)
    return True


_SIGNALS = (0, 1, 3, 2)  # [batch, time, L, C] -> [batch, time, C, L]


def signals_to_ncl(model: ir.Model, value: ir.Value) -> bool:
    """A rank-4 input read only as a channels-first sequence of signals (ConvLSTM1D:
    ``Transpose(x, (0, 1, 3, 2))``): the input becomes [batch, time, C, L] (declared)."""
    consumers = value.consumers()
    if value.is_graph_output() or not consumers or any(perm(n) != _SIGNALS for n in consumers):
        return False
    for transpose in consumers:
        transpose.outputs[0].replace_all_uses_with(value, replace_graph_outputs=True)
        model.graph.remove(transpose, safe=True)
    shape = tuple(value.shape)
    value.shape = ir.Shape([shape[p] for p in _SIGNALS])
    model.metadata_props[metadata.perm_key(value.name)] = metadata.format_perm(_SIGNALS)
    return True
