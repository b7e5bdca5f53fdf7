"""How stage 1 makes tf2onnx keep each Keras layer recognisable, without changing its numbers.

Keras 3 computes BatchNormalization as ``x * scale + offset`` with ``scale`` and ``offset``
folded from gamma, beta, mean and variance, and tf2onnx then folds those into the previous
Conv. The result is right but the layer is gone: PyTorch would get a Conv with a bias where a
person writes ``nn.Conv2d(bias=False)`` + ``nn.BatchNorm2d``, and the parameter count no
longer matches Keras. While tf2onnx traces the model (this process only) we therefore

- compute a rank-4 channels-last BatchNormalization with TensorFlow's ``FusedBatchNormV3``
  (the same formula), which tf2onnx converts to one ONNX ``BatchNormalization`` holding
  gamma, beta, mean and variance;
- switch off tf2onnx's Conv + BatchNormalization fusion (``remove_back_to_back`` keeps its
  other rewrites).

Exact GELU is the other case: TensorFlow computes it with ``Erfc``, which tf2onnx cannot
convert (it leaves the op in the graph); during tracing it is written with ``Erf`` instead,
``0.5 * x * (1 + erf(x / sqrt(2)))``, the same function.

Keras 3's Embedding looks ids up with ``ops.take``, which on TensorFlow first maps negative
ids to ``id + vocab`` (Cast, Less, Not, Mul, Add around the Gather); during tracing it is one
``tf.gather`` (ONNX Gather wraps negative ids the same way; PyTorch's ``nn.Embedding``, which
stage 3 makes of it, rejects them with an IndexError rather than computing something else).

Two Keras 3 forms tf2onnx gets wrong or cannot see through, rewritten the same way:

- ``TimeDistributed`` runs its layer in a ``pfor`` while-loop that tf2onnx converts into a
  Loop computing a wrong shape for open sequence lengths (caught by the stage-1 check); during
  tracing a Dense is applied to the whole sequence (it acts on the last axis of every step
  alike), another layer to the batch and time axes merged into one;
- a dilated or grouped convolution: Keras calls ``tf.nn.convolution`` (dilation becomes
  SpaceToBatchND shape arithmetic tf2onnx cannot fold for open sizes) or compiles it with
  XLA (grouped; tf2onnx sees an opaque call). During tracing it is ``tf.nn.conv2d`` with
  ``dilations``, or ``tf.nn.depthwise_conv2d`` when every group has one input channel (1-D
  convolutions through a size-1 height); other grouped convolutions are left as they are.

The reference outputs are computed by unpatched Keras, so any difference shows in the check.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import keras.src.backend.tensorflow.nn as keras_tf_nn
import tensorflow as tf
from keras.src.layers.core.dense import Dense
from keras.src.layers.core.embedding import Embedding
from keras.src.layers.reshaping.up_sampling2d import UpSampling2D
from keras.src.layers.rnn.time_distributed import TimeDistributed
from tf2onnx.optimizer import back_to_back_optimizer

_CONV_BN = ("Conv", "BatchNormalization")


def _fused_batch_normalization(original):
    def batch_normalization(x, mean, variance, axis, offset=None, scale=None, epsilon=1e-3):
        if len(x.shape) != 4 or axis not in (-1, 3) or x.dtype != tf.float32:
            return original(x, mean, variance, axis, offset, scale, epsilon)
        channels = mean.shape[0]
        scale = tf.ones([channels], x.dtype) if scale is None else scale
        offset = tf.zeros([channels], x.dtype) if offset is None else offset
        y, _, _ = tf.compat.v1.nn.fused_batch_norm(
            x,
            scale,
            offset,
            mean,
            variance,
            epsilon=epsilon,
            data_format="NHWC",
            is_training=False,
        )
        return y

    return batch_normalization


def _gelu_with_erf(original):
    def gelu(x, approximate=True):
        if approximate:
            return original(x, approximate=True)
        x = tf.convert_to_tensor(x)
        return 0.5 * x * (1.0 + tf.math.erf(x * tf.cast(0.7071067811865476, x.dtype)))

    return gelu


def _nearest_resize(original):
    def resize_images(self, x, height_factor, width_factor, data_format, interpolation="nearest"):
        static = x.shape[1:3]
        if interpolation != "nearest" or data_format != "channels_last" or None in static:
            return original(self, x, height_factor, width_factor, data_format, interpolation)
        size = (static[0] * height_factor, static[1] * width_factor)
        return tf.image.resize(x, size, method="nearest")

    return resize_images


def _plain_gather(original):
    def call(self, inputs):
        if getattr(self, "lora_enabled", False) or getattr(self, "quantization_mode", None):
            return original(self, inputs)
        if inputs.dtype not in (tf.int32, tf.int64):
            inputs = tf.cast(inputs, tf.int32)
        return tf.cast(tf.gather(self.embeddings, inputs), self.compute_dtype)

    return call


def _time_distributed(original):
    def call(self, inputs, training=None, mask=None):
        if mask is not None:
            return original(self, inputs, training=training, mask=mask)
        if isinstance(self.layer, Dense):
            return self.layer(inputs)
        shape = tf.shape(inputs)
        merged = tf.reshape(inputs, tf.concat([[-1], shape[2:]], 0))
        merged.set_shape((None, *inputs.shape[2:]))
        y = self.layer(merged, training=training)
        return tf.reshape(y, tf.concat([shape[:2], tf.shape(y)[1:]], 0))

    return call


def _tuple(value, rank: int) -> tuple[int, ...]:
    return tuple(value) if isinstance(value, list | tuple) else (value,) * rank


def _plain_conv(original):
    def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
        rank = len(inputs.shape) - 2
        channels, per_group = inputs.shape[-1], kernel.shape[-2]
        dilations, strides = _tuple(dilation_rate, rank), _tuple(strides, rank)
        simple = per_group == channels and set(dilations) == {1}
        depthwise = per_group == 1 and channels and channels > 1
        last = data_format in (None, "channels_last")
        if simple or not last or rank not in (1, 2) or not (per_group == channels or depthwise):
            return original(inputs, kernel, strides, padding, data_format, dilation_rate)
        x = tf.expand_dims(inputs, 1) if rank == 1 else inputs
        k = tf.expand_dims(kernel, 0) if rank == 1 else kernel
        strides, dilations = ((1, *strides), (1, *dilations)) if rank == 1 else (strides, dilations)
        if depthwise:
            k = tf.reshape(k, (*k.shape[:2], channels, k.shape[-1] // channels))
            y = tf.nn.depthwise_conv2d(x, k, (1, *strides, 1), padding.upper(), dilations=dilations)
        else:
            y = tf.nn.conv2d(x, k, strides, padding.upper(), dilations=dilations)
        return tf.squeeze(y, 1) if rank == 1 else y

    return conv


@contextmanager
def traceable_forms() -> Iterator[None]:
    """While tf2onnx traces: BatchNormalization as one op, exact GELU with Erf, nearest
    UpSampling2D as one resize (Keras repeats rows and columns with Tile and Reshape), Embedding
    as one Gather, TimeDistributed without a loop, dilated and depthwise-grouped convolutions
    as plain TensorFlow ops."""
    originals = (keras_tf_nn.batch_normalization, keras_tf_nn.gelu, UpSampling2D._resize_images)
    keras_tf_nn.batch_normalization = _fused_batch_normalization(originals[0])
    keras_tf_nn.gelu = _gelu_with_erf(originals[1])
    UpSampling2D._resize_images = _nearest_resize(originals[2])
    embedding_call = Embedding.call
    Embedding.call = _plain_gather(embedding_call)
    time_distributed_call = TimeDistributed.call
    TimeDistributed.call = _time_distributed(time_distributed_call)
    conv = keras_tf_nn.conv
    keras_tf_nn.conv = _plain_conv(conv)
    try:
        yield
    finally:
        keras_tf_nn.batch_normalization, keras_tf_nn.gelu = originals[:2]
        UpSampling2D._resize_images = originals[2]
        Embedding.call = embedding_call
        TimeDistributed.call = time_distributed_call
        keras_tf_nn.conv = conv


@contextmanager
def batch_norm_kept() -> Iterator[None]:
    """While tf2onnx converts: its Conv + BatchNormalization fusion switched off."""
    fusion = back_to_back_optimizer._func_map.pop(_CONV_BN, None)
    try:
        yield
    finally:
        if fusion is not None:
            back_to_back_optimizer._func_map[_CONV_BN] = fusion
