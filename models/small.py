"""Small Keras models that cover the layers real CNNs use, one concern each, with every
weight randomized (biases and BatchNorm statistics included: at their initial 0/1 they would
hide bias and BatchNorm bugs from the checks)."""

from __future__ import annotations

import keras
import numpy as np

SEED = 0
L = keras.layers


def randomize(model: keras.Model, seed: int = SEED) -> keras.Model:
    """Every weight random but well scaled: kernels keep their initializer's (random) values,
    biases and BN beta/mean ~ N(0, 0.1), BN gamma and variance ~ U(0.5, 1.5), and any other
    weight its initializer left constant (a ViT's zero class tokens) ~ N(0, 0.1)."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        values = []
        for weight, value in zip(layer.weights, layer.get_weights(), strict=True):
            name = weight.path.rsplit("/", 1)[-1]
            if name in ("gamma", "moving_variance"):
                value = rng.uniform(0.5, 1.5, value.shape)
            elif name in ("beta", "moving_mean", "bias") or value.ndim == 1:
                value = rng.normal(0.0, 0.1, value.shape)
            elif value.size > 1 and np.all(value == value.flat[0]):
                value = rng.normal(0.0, 0.1, value.shape)
            values.append(np.asarray(value, dtype=weight.dtype))
        if values:
            layer.set_weights(values)
    return model


def bn_block() -> keras.Model:
    """Conv+BN+ReLU6, DepthwiseConv+BN+ReLU, a residual Add, global pooling, Dropout, Dense,
    with weight regularizers (L2, L1, L1L2) for ``regularization_loss()``. Height and width
    are open (None): checked at two sizes."""
    keras.utils.set_random_seed(SEED)
    l1, l2 = keras.regularizers.L1, keras.regularizers.L2
    inputs = keras.Input((None, None, 3), name="image")
    x = L.Conv2D(
        8, 3, padding="same", use_bias=False, kernel_regularizer=l2(1e-3), name="stem_conv"
    )(inputs)
    x = L.BatchNormalization(gamma_regularizer=l1(1e-4), name="stem_bn")(x)
    x = L.ReLU(6.0, name="stem_relu6")(x)
    y = L.DepthwiseConv2D(
        3, padding="same", use_bias=False, depthwise_regularizer=l1(2e-3), name="dw_conv"
    )(x)
    y = L.BatchNormalization(name="dw_bn")(y)
    y = L.ReLU(name="dw_relu")(y)
    x = L.Add(name="residual")([x, y])
    x = L.GlobalAveragePooling2D(name="pool")(x)
    x = L.Dropout(0.2, name="dropout")(x)
    regularizer = keras.regularizers.L1L2(1e-4, 5e-4)
    outputs = L.Dense(5, kernel_regularizer=regularizer, bias_regularizer=l2(0.01), name="logits")(
        x
    )
    return randomize(keras.Model(inputs, outputs, name="bn_block"))


def pooling() -> keras.Model:
    """Strided, dilated and even-kernel 'same' convs (TensorFlow pads those asymmetrically),
    ZeroPadding2D, Cropping2D, average and max pooling, Dropout, GlobalMaxPooling2D."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((15, 15, 2), name="image")
    x = L.Conv2D(4, 4, strides=2, padding="same", activation="relu", name="even_strided")(inputs)
    x = L.Conv2D(4, 3, dilation_rate=2, padding="same", name="dilated")(x)
    x = L.ZeroPadding2D(((1, 2), (0, 1)), name="zero_pad")(x)
    x = L.Cropping2D(((1, 0), (0, 1)), name="crop")(x)
    x = L.AveragePooling2D(2, name="avg_pool")(x)
    x = L.MaxPooling2D(2, strides=1, padding="same", name="max_pool_same")(x)
    x = L.Dropout(0.3, name="dropout")(x)
    x = L.GlobalMaxPooling2D(name="global_max")(x)
    outputs = L.Dense(3, activation="softmax", name="probs")(x)
    return randomize(keras.Model(inputs, outputs, name="pooling"))


def activations() -> keras.Model:
    """Every activation a Dense stack meets, each after a Dense so the inputs vary.
    (PReLU is not here: its alpha comes out of tf2onnx as a constant, not a parameter.)"""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((12,), name="features")
    x = inputs
    for name in (
        "relu",
        "relu6",
        "leaky_relu",
        "elu",
        "selu",
        "swish",
        "hard_swish",
        "hard_sigmoid",
        "sigmoid",
        "tanh",
        "gelu_tanh",
        "softplus",
    ):
        x = L.Dense(12, name=f"dense_{name}")(x)
        if name == "gelu_tanh":
            x = L.Activation(_gelu_tanh, name=name)(x)
        elif name == "relu6":
            x = L.ReLU(6.0, name=name)(x)
        elif name == "leaky_relu":
            x = L.LeakyReLU(0.2, name=name)(x)
        else:
            x = L.Activation(name, name=name)(x)
    outputs = L.Dense(4, activation="softmax", name="probs")(x)
    return randomize(keras.Model(inputs, outputs, name="activations"))


@keras.saving.register_keras_serializable(package="models")
def _gelu_tanh(x):
    return keras.activations.gelu(x, approximate=True)


def se_block() -> keras.Model:
    """Squeeze-and-excitation (GlobalAveragePooling keepdims, 1x1 convs, Multiply),
    SeparableConv2D, Concatenate on channels, Rescaling, swish. Height and width are open."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((None, None, 4), name="image")
    x = L.Rescaling(1 / 255.0, offset=-0.5, name="rescale")(inputs)
    x = L.Conv2D(8, 3, padding="same", activation="swish", name="conv")(x)
    s = L.GlobalAveragePooling2D(keepdims=True, name="se_squeeze")(x)
    s = L.Conv2D(2, 1, activation="relu", name="se_reduce")(s)
    s = L.Conv2D(8, 1, activation="sigmoid", name="se_expand")(s)
    x = L.Multiply(name="se_excite")([x, s])
    y = L.SeparableConv2D(8, 3, padding="same", name="sep_conv")(x)
    x = L.Concatenate(name="concat")([x, y])
    outputs = L.Conv2D(2, 1, name="head")(x)
    return randomize(keras.Model(inputs, outputs, name="se_block"))


def upsampling() -> keras.Model:
    """Conv2DTranspose ("same": TensorFlow crops its output unevenly) and UpSampling2D."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((8, 8, 4), name="image")
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same", name="deconv")(inputs)
    x = L.UpSampling2D(2, name="upsample")(x)
    outputs = L.Conv2D(2, 1, name="head")(x)
    return randomize(keras.Model(inputs, outputs, name="upsampling"))


@keras.saving.register_keras_serializable(package="models")
class Erfc(keras.layers.Layer):
    """A custom layer calling a TensorFlow op tf2onnx cannot convert (``Erfc``)."""

    def call(self, inputs):
        import tensorflow as tf

        return tf.math.erfc(inputs)


def dense_reshape() -> keras.Model:
    """A decoder head: a Dense reshaped into a feature map before a Conv2D (its kernel's
    columns re-ordered so the map comes out channels-first)."""
    keras.utils.set_random_seed(SEED)
    z = keras.Input((6,), name="z")
    x = L.Dense(4 * 4 * 3, activation="relu", name="project")(z)
    x = L.Reshape((4, 4, 3), name="to_map")(x)
    outputs = L.Conv2D(2, 3, padding="same", name="conv")(x)
    return randomize(keras.Model(z, outputs, name="dense_reshape"))


def flatten_concat() -> keras.Model:
    """Two inputs, an image and a feature vector: the image's conv features flattened and
    joined with the vector before the Dense (its kernel's image rows re-ordered, the feature
    rows kept)."""
    keras.utils.set_random_seed(SEED)
    image = keras.Input((8, 8, 3), name="image")
    features = keras.Input((5,), name="features")
    x = L.Conv2D(4, 3, activation="relu", name="conv")(image)
    x = L.Flatten(name="flatten")(x)
    x = L.Concatenate(name="join")([x, features])
    outputs = L.Dense(3, name="head")(x)
    return randomize(keras.Model([image, features], outputs, name="flatten_concat"))


def multi_output() -> keras.Model:
    """Two inputs of different ranks (an image, a feature vector), three outputs returned as a
    dict: a class vector, a score whose key is not its layer's name, and a feature map (torch
    returns it channels-first and a dict with the same keys)."""
    keras.utils.set_random_seed(SEED)
    image = keras.Input((8, 8, 3), name="image")
    features = keras.Input((5,), name="features")
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv")(image)
    mask = L.Conv2D(2, 1, name="mask")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    x = L.Concatenate(name="join")([x, features])
    classes = L.Dense(3, activation="softmax", name="classes")(x)
    score = L.Dense(1, name="score_head")(x)
    outputs = {"classes": classes, "score": score, "mask": mask}
    return randomize(keras.Model([image, features], outputs, name="multi_output"))


def same_padding() -> keras.Model:
    """TensorFlow's "same" padding where it is uneven (one more at the end), in one model:
    even kernels, strides, dilation, depthwise, separable and transposed convs, max and
    average pooling (TensorFlow averages over the real pixels only), and asymmetric
    ZeroPadding2D/Cropping2D between them."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((17, 17, 3), name="image")
    x = L.Conv2D(4, 2, strides=2, padding="same", name="even_k_s2")(inputs)
    x = L.Conv2D(4, 4, padding="same", name="even_k4")(x)
    x = L.MaxPooling2D(2, strides=1, padding="same", name="max_even_s1")(x)
    x = L.AveragePooling2D(2, strides=1, padding="same", name="avg_even_s1")(x)
    x = L.AveragePooling2D(3, strides=2, padding="same", name="avg_odd_s2")(x)
    x = L.Conv2D(4, 3, dilation_rate=2, padding="same", name="dilated_same")(x)
    x = L.Conv2D(4, 2, dilation_rate=2, padding="same", name="dilated_even")(x)
    x = L.DepthwiseConv2D(4, strides=2, padding="same", name="depthwise_even_s2")(x)
    x = L.Conv2DTranspose(4, 4, strides=2, padding="same", name="transposed_even")(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same", name="transposed_odd")(x)
    x = L.ZeroPadding2D(((1, 2), (0, 3)), name="pad")(x)
    x = L.Cropping2D(((2, 0), (1, 1)), name="crop")(x)
    x = L.SeparableConv2D(4, 2, strides=2, padding="same", name="separable_even_s2")(x)
    x = L.Conv2D(4, 3, strides=2, padding="same", name="odd_s2")(x)
    x = L.Flatten(name="flatten")(x)
    outputs = L.Dense(3, name="head")(x)
    return randomize(keras.Model(inputs, outputs, name="same_padding"))


def _block(filters: int, name: str) -> keras.Sequential:
    return keras.Sequential(
        [
            L.Conv2D(filters, 3, padding="same", name="conv"),
            L.BatchNormalization(name="bn"),
            L.ReLU(name="relu"),
            L.MaxPooling2D(name="pool"),
        ],
        name=name,
    )


def nested_sequential() -> keras.Model:
    """A ``Sequential`` of ``Sequential`` blocks (the same layer names in each block), then
    Flatten and Dense. block2's conv keeps Keras' all-zero bias initializer (tf2onnx drops a
    zero bias; stage 2 must restore it on the right nested layer)."""
    keras.utils.set_random_seed(SEED)
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3), name="image"),
            _block(4, "block1"),
            _block(6, "block2"),
            L.Flatten(name="flatten"),
            L.Dense(5, name="head"),
        ],
        name="nested_sequential",
    )
    randomize(model)
    bias = model.get_layer("block2").get_layer("conv").bias
    bias.assign(np.zeros(bias.shape, "float32"))
    return model


def siamese() -> keras.Model:
    """Shared layers: one nested encoder (Conv, BN, Flatten, Dense) called on two images, a
    top-level Dense called on both embeddings; each is one torch module called twice."""
    keras.utils.set_random_seed(SEED)
    encoder = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            L.Conv2D(4, 3, name="conv"),
            L.BatchNormalization(name="bn"),
            L.ReLU(name="relu"),
            L.Flatten(name="flatten"),
            L.Dense(8, name="embed"),
        ],
        name="encoder",
    )
    project = L.Dense(4, activation="tanh", name="project")
    left, right = keras.Input((12, 12, 3), name="left"), keras.Input((12, 12, 3), name="right")
    a, b = project(encoder(left)), project(encoder(right))
    distance = L.Subtract(name="difference")([a, b])
    outputs = L.Dense(1, activation="sigmoid", name="same")(distance)
    return randomize(keras.Model([left, right], outputs, name="siamese"))


def transfer() -> keras.Model:
    """Transfer learning: MobileNetV2 (include_top=False, alpha 0.35) called as a layer, after
    augmentation layers (identity at inference) and Rescaling, and frozen (trainable=False,
    as when training only the new head); a new pooled Dense head."""
    keras.utils.set_random_seed(SEED)
    base = keras.applications.MobileNetV2(
        input_shape=(64, 64, 3), alpha=0.35, include_top=False, weights=None
    )
    base.trainable = False
    inputs = keras.Input((64, 64, 3), name="image")
    x = L.RandomFlip(name="flip")(inputs)
    x = L.RandomRotation(0.1, name="rotate")(x)
    x = L.RandomZoom(0.1, name="zoom")(x)
    x = L.Rescaling(1 / 127.5, offset=-1, name="rescale")(x)
    x = base(x, training=False)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    x = L.Dropout(0.2, name="dropout")(x)
    outputs = L.Dense(4, name="head")(x)
    return randomize(keras.Model(inputs, outputs, name="transfer"))


def unconvertible() -> keras.Model:
    """Dense -> a custom Erfc layer: the error path (stage 1 must name the op and layer)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((8,), name="features")
    x = L.Dense(8, name="fc")(inputs)
    outputs = Erfc(name="custom_erfc")(x)
    return randomize(keras.Model(inputs, outputs, name="unconvertible"))


def reshape_permute() -> keras.Model:
    """Reshape (an image to a sequence of pixels) and Permute (a transposing layer), then a
    Dense over the pixels (the last axis after the Permute)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((6, 6, 4), name="image")
    x = L.Conv2D(5, 3, padding="same", activation="relu", name="conv")(inputs)
    x = L.Reshape((36, 5), name="to_pixels")(x)
    x = L.Permute((2, 1), name="channels_first")(x)
    x = L.Dense(4, name="mix_pixels")(x)
    x = L.Flatten(name="flatten")(x)
    outputs = L.Dense(3, name="logits")(x)
    return randomize(keras.Model(inputs, outputs, name="reshape_permute"))


def prelu() -> keras.Model:
    """PReLU per channel (shared over height and width, as conv nets use it) and per
    element."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((6, 6, 3), name="image")
    x = L.Conv2D(4, 3, padding="same", name="conv")(inputs)
    x = L.PReLU(shared_axes=[1, 2], name="prelu_channel")(x)
    x = L.Conv2D(4, 3, padding="same", name="conv2")(x)
    x = L.PReLU(name="prelu_element")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    outputs = L.Dense(2, name="logits")(x)
    return randomize(keras.Model(inputs, outputs, name="prelu"))
