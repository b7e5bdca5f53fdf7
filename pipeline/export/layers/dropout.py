"""Dropout and SpatialDropout1D/2D/3D: kept in the graph, so that the torch module drops what
Keras drops when it trains (identity at inference, as in Keras).

- ``Dropout(rate)`` -> ONNX ``Dropout(x, ratio=rate)`` (stage 3: ``nn.Dropout(p=rate)``);
- ``SpatialDropout*D(rate)`` -> ``KerasSpatialDropout`` (``pipeline.forms.spatial_dropout``)
  on channels-first data between two Transposes stage 2 cancels next to a conv (stage 3:
  ``nn.Dropout1d/2d/3d(p=rate)``, which zero whole channels, as Keras does).

A ``Dropout`` with a ``noise_shape`` (a mask shared along some axes) has no ``torch.nn``
form: it is left to tf2onnx, which writes nothing for it (the identity it is at inference).
"""

from __future__ import annotations

import keras
import numpy as np
import onnx

from pipeline.export.layers import onnx_edit
from pipeline.export.layers.registry import register
from pipeline.forms import DOMAIN
from pipeline.forms import spatial_dropout as spatial_form

_SPATIAL = (
    keras.layers.SpatialDropout1D,
    keras.layers.SpatialDropout2D,
    keras.layers.SpatialDropout3D,
)


@register
class DropoutHandler:
    CLASSES = (keras.layers.Dropout, *_SPATIAL)

    @staticmethod
    def trace(layer, inputs, *args, **kwargs):
        if type(layer) is keras.layers.Dropout and layer.noise_shape is not None:
            return None
        return [inputs], tuple(inputs.shape), {"rank": len(inputs.shape)}

    @staticmethod
    def write(proto: onnx.ModelProto, node: onnx.NodeProto, layer, info: dict):
        rate = float(layer.rate)
        if type(layer) is keras.layers.Dropout:
            ratio = onnx_edit.constant(proto.graph, f"{node.name}_ratio", np.float32(rate))
            onnx_edit.become(node, "Dropout", "", [node.input[0], ratio])
            return None
        call = {"domain": DOMAIN, "ratio": rate}
        if getattr(layer, "data_format", "channels_last") == "channels_first":
            onnx_edit.become(node, spatial_form.OP_TYPE, DOMAIN, [node.input[0]])
            node.attribute.append(onnx.helper.make_attribute("ratio", rate))
        else:
            steps = [(spatial_form.OP_TYPE, [], call)]
            onnx_edit.channels_first(proto.graph, node, info["rank"], steps)
        return spatial_form.function(onnx_edit.opset(proto))
