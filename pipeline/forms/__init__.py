"""The ONNX forms the stages agree on beyond standard ONNX: model-local functions (domain
``keras2torch``) that one stage writes and a later one reads.

- ``recurrent``: stage 1 writes each LSTM/GRU/SimpleRNN/Bidirectional layer as one call;
- ``attention``: stage 1 writes MultiHeadAttention as one call;
- ``conv_lstm``: stage 1 writes ConvLSTM1D/2D as one call;
- ``channel_norm``: stage 2 writes a LayerNormalization over the channel axis as one call;
- ``group_norm``: stage 1 writes GroupNormalization as one call;
- ``resize_nearest``: stage 1 writes Resizing(interpolation="nearest") as one call;
- ``spatial_dropout``: stage 1 writes SpatialDropout1D/2D/3D as one call;
- ``shape_like``: stage 2 writes a broadcast or cut to another tensor's size as one call.

``PARAM_ROLES`` says, per op type, which inputs are which torch parameter (``weight``,
``bias``, ...): stage 2 names initializers after it, without knowing each form. Standard ops
are listed here too, so that it is the one table. Imports neither TensorFlow nor torch.
"""

from __future__ import annotations

from pipeline.forms import (
    attention,
    channel_norm,
    conv_lstm,
    group_norm,
    recurrent,
    resize_nearest,
    shape_like,
    spatial_dropout,
)
from pipeline.forms.function import DOMAIN, VERSION

__all__ = [
    "DOMAIN",
    "PARAM_ROLES",
    "VERSION",
    "attention",
    "channel_norm",
    "conv_lstm",
    "group_norm",
    "recurrent",
    "resize_nearest",
    "shape_like",
    "spatial_dropout",
]

# op type -> the torch parameter name of each input position (None: not a parameter)
PARAM_ROLES: dict[str, tuple[str | None, ...]] = {
    "Conv": (None, "weight", "bias"),
    "ConvTranspose": (None, "weight", "bias"),
    "Gemm": (None, "weight", "bias"),
    "BatchNormalization": (None, "weight", "bias", "running_mean", "running_var"),
    "PRelu": (None, "weight"),
    "LayerNormalization": (None, "weight", "bias"),
    "MatMul": (None, "weight"),  # a Dense on a sequence: stage 3 makes it nn.Linear
    "Gather": ("weight", None),  # an Embedding's table: stage 3 makes it nn.Embedding
    **recurrent.PARAM_ROLES,
    **channel_norm.PARAM_ROLES,
    **conv_lstm.PARAM_ROLES,
    **group_norm.PARAM_ROLES,
    **resize_nearest.PARAM_ROLES,
    **shape_like.PARAM_ROLES,
    **spatial_dropout.PARAM_ROLES,
}
