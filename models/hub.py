"""keras-hub backbones from small configs, every weight randomized (issue 23): what Keras users
get transformers and modern CNNs from now. ``MODEL=hub_resnet`` and so on; keras-hub is an
optional dependency (``make`` installs requirements-hub.lock), imported only when one of
these is built."""

from __future__ import annotations

import keras
from pipeline.errors import BadInputError

from models.small import SEED, randomize

IMAGE = (32, 32, 3)


def _hub():
    try:
        import keras_hub
    except ImportError as exc:
        raise BadInputError(
            "keras-hub is not installed; install it as make does: "
            "pip install --no-deps -r requirements-hub.lock"
        ) from exc

    keras.utils.set_random_seed(SEED)
    return keras_hub.models


def resnet() -> keras.Model:
    hub = _hub()
    return randomize(
        hub.ResNetBackbone(
            input_conv_filters=[64],
            input_conv_kernel_sizes=[7],
            stackwise_num_filters=[64, 32],
            stackwise_num_blocks=[1, 1],
            stackwise_num_strides=[1, 2],
            block_type="basic_block",
            image_shape=IMAGE,
        )
    )


def cspnet() -> keras.Model:
    hub = _hub()
    return randomize(
        hub.CSPNetBackbone(  # CSPDarkNet-53's stages (expand 2, bottleneck 0.5), two of them
            stem_filters=16,
            stem_kernel_size=3,
            stem_strides=1,
            stackwise_depth=[1, 1],
            stackwise_strides=[2, 2],
            stackwise_num_filters=[32, 64],
            block_type="dark_block",
            stage_type="csp",
            bottle_ratio=[0.5],
            block_ratio=[1.0],
            expand_ratio=[2.0],
            stem_padding="same",
            image_shape=IMAGE,
        )
    )


def mit() -> keras.Model:
    hub = _hub()
    return randomize(
        hub.MiTBackbone(
            layerwise_depths=[1, 1],
            num_layers=2,
            layerwise_num_heads=[1, 2],
            layerwise_sr_ratios=[2, 1],
            max_drop_path_rate=0.0,
            layerwise_patch_sizes=[7, 3],
            layerwise_strides=[4, 2],
            image_shape=IMAGE,
            hidden_dims=[8, 16],
        )
    )


def vit() -> keras.Model:
    hub = _hub()
    return randomize(
        hub.ViTBackbone(
            image_shape=IMAGE, patch_size=8, num_layers=2, num_heads=2, hidden_dim=16, mlp_dim=32
        )
    )


def deit() -> keras.Model:
    hub = _hub()
    return randomize(
        hub.DeiTBackbone(
            image_shape=IMAGE,
            patch_size=8,
            num_layers=2,
            num_heads=2,
            hidden_dim=16,
            intermediate_dim=32,
        )
    )


# A small text transformer, as BERT, DistilBERT and GPT-2 take it
TEXT = {
    "vocabulary_size": 50,
    "num_layers": 2,
    "num_heads": 2,
    "hidden_dim": 16,
    "intermediate_dim": 32,
    "max_sequence_length": 16,
}


def bert() -> keras.Model:
    return randomize(_hub().BertBackbone(**TEXT))


def distilbert() -> keras.Model:
    return randomize(_hub().DistilBertBackbone(**TEXT))


def gpt2() -> keras.Model:
    # positions for 32 tokens: the causal mask is checked at the second length (24) too
    return randomize(_hub().GPT2Backbone(**{**TEXT, "max_sequence_length": 32}))


def whisper() -> keras.Model:
    """Whisper's audio encoder (its backbone's encoder half, a model of its own): two Conv1D
    over 8 mel channels, the second strided, a fixed sinusoidal position table (frozen) cut to
    the length the convs leave, two encoder blocks whose key projection has no bias."""
    backbone = _hub().WhisperBackbone(
        vocabulary_size=50,
        num_layers=2,
        num_heads=2,
        hidden_dim=16,
        intermediate_dim=32,
        num_mels=8,
        max_encoder_sequence_length=32,
        max_decoder_sequence_length=16,
    )
    encoder = keras.Model(
        backbone.input["encoder_features"],
        backbone.output["encoder_sequence_output"],
        name="whisper_encoder",
    )
    return randomize(encoder)
