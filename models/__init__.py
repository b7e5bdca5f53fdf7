"""Where ``MODEL=`` comes from: one small registry.

``resolve(model)`` accepts, in this order:

1. a name in ``REGISTRY`` (``lenet4``): built (and trained) here, deterministically; or
   ``layer:<Keras class>``, a one-layer model of ``models.layers`` (``layer:Conv2D``); or
   ``fuzz:<seed>`` / ``fuzz:<spec.json>``, a random model of the fuzzer (``models.fuzz``);
2. a path to a Keras file: ``.keras``, ``.h5`` (Keras 3 or Keras 2), or a SavedModel directory
   written by Keras 2 (``tf_keras``); read, never written;
3. the name of a ``keras.applications`` model (``MobileNetV2``, case-insensitive), built with
   ``weights=None`` (no download) and a fixed seed.

Only the export process builds or loads models (TensorFlow); importing the package imports
no framework, so that the zoo can read the registry's names.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import BadInputError

from models.loaded import LabeledData, LoadedModel, LoadOptions  # noqa: F401  (re-exported)

if TYPE_CHECKING:
    import keras

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

SEED = 0


@dataclass(frozen=True)
class Entry:
    description: str
    build: Callable[[], keras.Model]
    labeled: Callable[[], LabeledData] | None = None
    converts: bool = True  # False: a model that shows the error path (not in the zoo)


def _lenet4() -> keras.Model:
    from models import lenet4

    return lenet4.train()


def _digits_test() -> LabeledData:
    from models import digits

    split = digits.load()
    return LabeledData("digits_test", split.x_test, split.y_test)


def _from(module: str, name: str) -> Callable[[], keras.Model]:
    """The builder ``name`` of ``models.<module>``, imported when called."""

    def build() -> keras.Model:
        return getattr(importlib.import_module(f"models.{module}"), name)()

    return build


def _small(name: str) -> Callable[[], keras.Model]:
    return _from("small", name)


def _sequence(name: str) -> Callable[[], keras.Model]:
    return _from("sequence", name)


REGISTRY: dict[str, Entry] = {
    "lenet4": Entry(
        "LeNet4 of the reference post, trained on scikit-learn digits", _lenet4, _digits_test
    ),
    "bn_block": Entry(
        "Conv/BN/ReLU6, depthwise conv, residual Add, global pooling", _small("bn_block")
    ),
    "pooling": Entry("padding, cropping, pooling, strided/dilated convs", _small("pooling")),
    "activations": Entry("every Keras activation after a Dense", _small("activations")),
    "se_block": Entry("squeeze-excitation, separable conv, concat, swish", _small("se_block")),
    "upsampling": Entry("Conv2DTranspose, UpSampling2D", _small("upsampling")),
    "reshape_permute": Entry("Reshape, Permute, Dense over a sequence", _small("reshape_permute")),
    "prelu": Entry("PReLU per channel and per element", _small("prelu")),
    "dense_reshape": Entry("a decoder head: Dense -> Reshape -> Conv2D", _small("dense_reshape")),
    "flatten_concat": Entry(
        "an image and a feature vector: Flatten -> Concatenate -> Dense", _small("flatten_concat")
    ),
    "multi_output": Entry(
        "an image and a vector in, a dict of three outputs (one a feature map)",
        _small("multi_output"),
    ),
    "same_padding": Entry(
        "uneven 'same' padding: even kernels, strides, dilation, pooling, asymmetric pads",
        _small("same_padding"),
    ),
    "nested_sequential": Entry(
        "a Sequential of Sequential blocks, a zero bias inside one", _small("nested_sequential")
    ),
    "siamese": Entry(
        "shared layers: a nested encoder and a Dense, each called on two inputs",
        _small("siamese"),
    ),
    "transfer": Entry(
        "MobileNetV2 (no top) as a layer after augmentation and Rescaling; a new head",
        _small("transfer"),
    ),
    "lstm_text": Entry("Embedding, stacked LSTMs, go_backwards", _sequence("lstm_text")),
    "gru_rnn": Entry("GRU and SimpleRNN, sequences and last steps", _sequence("gru_rnn")),
    "bidirectional": Entry("Bidirectional LSTM (concat) and GRU (sum)", _sequence("bidirectional")),
    "conv1d": Entry(
        "Conv1D, MaxPooling1D, TimeDistributed(Dense), GlobalAveragePooling1D", _sequence("conv1d")
    ),
    "transformer": Entry(
        "an encoder block: MultiHeadAttention, LayerNormalization, GELU", _sequence("transformer")
    ),
    "autoencoder": Entry(
        "a conv autoencoder: Conv2D/MaxPooling2D, Conv2DTranspose, Conv2D(sigmoid) last",
        _from("brought", "autoencoder"),
    ),
    "cnn_head": Entry(
        "Conv/BN/ReLU -> Dropout -> Flatten -> Dense; SpatialDropout2D, AlphaDropout",
        _from("brought", "cnn_head"),
    ),
    "wavenet": Entry(
        "one channel: dilated causal Conv1D, DepthwiseConv1D, SeparableConv1D",
        _from("brought", "wavenet"),
    ),
    "conv_lstm": Entry(
        "ConvLSTM2D returning every step, a second (dilated) its last, a Conv2D and a head",
        _from("brought", "conv_lstm"),
    ),
    "conv_lstm1d": Entry(
        "ConvLSTM1D (strided) over a sequence of signals, its last map into a Dense",
        _from("brought", "conv_lstm1d"),
    ),
    "video_frames": Entry(
        "frames: TimeDistributed(Conv2D, MaxPooling2D, Flatten), UpSampling1D, LSTM",
        _from("brought", "video_frames"),
    ),
    "seq2seq": Entry(
        "encoder-decoder: LSTM return_state -> LSTM initial_state, TimeDistributed(Dense)",
        _from("brought", "seq2seq"),
    ),
    "dict_io": Entry(
        "dict inputs and outputs (token_ids, segment_ids -> sequence_output, pooled_output)",
        _from("brought", "dict_io"),
    ),
    "masked_text": Entry(
        "Embedding(mask_zero=True) -> masked Bidirectional LSTM, GRU, GlobalAveragePooling1D",
        _from("brought", "masked_text"),
    ),
    "masked_frames": Entry(
        "Masking -> masked SimpleRNN (go_backwards) and LSTM", _from("brought", "masked_frames")
    ),
    "masked_transformer": Entry(
        "Embedding(mask_zero=True) -> MultiHeadAttention under the padding mask, causal too",
        _from("brought", "masked_transformer"),
    ),
    "hub_resnet": Entry("keras-hub ResNetBackbone (basic blocks), small", _from("hub", "resnet")),
    "hub_cspnet": Entry(
        "keras-hub CSPNetBackbone (CSPDarkNet stages), small", _from("hub", "cspnet")
    ),
    "hub_vit": Entry(
        "keras-hub ViTBackbone, small: its class token tiled to the batch", _from("hub", "vit")
    ),
    "hub_deit": Entry(
        "keras-hub DeiTBackbone, small: class and distillation tokens", _from("hub", "deit")
    ),
    "hub_bert": Entry(
        "keras-hub BertBackbone, small: dict inputs, a padding mask", _from("hub", "bert")
    ),
    "hub_distilbert": Entry(
        "keras-hub DistilBertBackbone, small: a padding mask", _from("hub", "distilbert")
    ),
    "hub_gpt2": Entry(
        "keras-hub GPT2Backbone, small: the causal mask from the length, with the padding mask",
        _from("hub", "gpt2"),
    ),
    "hub_mit": Entry(
        "keras-hub MiTBackbone (SegFormer's encoder), small: tokens reshaped to maps and back",
        _from("hub", "mit"),
    ),
    "hub_whisper": Entry(
        "keras-hub WhisperBackbone's audio encoder, small: strided Conv1D, a frozen position "
        "table cut to the sequence, attention without a key bias",
        _from("hub", "whisper"),
    ),
    "unconvertible": Entry(
        "a custom layer calling tf.math.erfc, which tf2onnx cannot convert",
        _small("unconvertible"),
        converts=False,
    ),
}


def _applications() -> dict[str, str]:
    """keras.applications model constructors, by lower-case name."""
    import keras

    return {
        name.lower(): name
        for name in dir(keras.applications)
        if name[:1].isupper() and callable(getattr(keras.applications, name))
    }


APPLICATION_SIZE = 96  # small input where the architecture allows it (fast to convert)


def build_application(name: str) -> keras.Model:
    """A keras.applications model, ``weights=None`` (no download), every weight randomized
    with a fixed seed (see models.small.randomize), at APPLICATION_SIZE when allowed."""
    import keras

    from models.small import randomize

    constructor = getattr(keras.applications, name)
    keras.utils.set_random_seed(SEED)
    try:
        model = constructor(weights=None, input_shape=(APPLICATION_SIZE, APPLICATION_SIZE, 3))
    except ValueError:  # a minimum or fixed input size: use the architecture's default
        keras.utils.set_random_seed(SEED)
        model = constructor(weights=None)
    return randomize(model)


def _fuzz(which: str) -> LoadedModel:
    """``fuzz:<seed>`` or ``fuzz:<spec.json>``: a random model of the fuzzer (models.fuzz)."""
    import json

    from models import fuzz, fuzz_build

    if which.isdigit():
        spec = fuzz.spec(int(which))
    elif Path(which).is_file():
        spec = json.loads(Path(which).read_text())
    else:
        raise BadInputError(f"fuzz:{which}: expected fuzz:<seed> or fuzz:<spec.json>.")
    return LoadedModel(fuzz_build.build(spec), f"fuzz:{which}", True)


def resolve(model: str, options: LoadOptions | None = None) -> LoadedModel:
    if model.startswith("layer:"):
        from models import layers

        case = model.removeprefix(layers.PREFIX)
        if case not in layers.CASES:
            raise BadInputError(
                f"unknown one-layer model '{model}': the cases are "
                f"{', '.join(f'layer:{c}' for c in layers.CASES)}."
            )
        return LoadedModel(layers.build(case), f"one-layer model:{case}", True)
    if model.startswith("fuzz:"):
        return _fuzz(model.removeprefix("fuzz:"))
    if model in REGISTRY:
        entry = REGISTRY[model]
        labeled = entry.labeled() if entry.labeled else None
        return LoadedModel(entry.build(), f"registry:{model}", True, labeled)
    path = Path(model)
    if path.exists():
        from models import files

        return files.load(path, options or LoadOptions())
    if path.suffix or os.sep in model:  # a path (no keras.applications name has either)
        raise BadInputError(f"model file not found: '{model}'.")
    applications = _applications()  # imports Keras: after the cheap answers
    if model.lower() in applications:
        name = applications[model.lower()]
        return LoadedModel(build_application(name), f"keras.applications:{name}", True)
    raise BadInputError(
        f"unknown MODEL '{model}': not a registered model ({', '.join(sorted(REGISTRY))}), "
        "not an existing .keras/.h5 file, and not a keras.applications model "
        "(for example MobileNetV2)."
    )
