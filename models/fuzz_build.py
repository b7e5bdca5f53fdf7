"""The Keras model of a fuzzer spec (``models.fuzz``): each step one Keras layer (two for a
residual or a concatenation), layers named ``<kind>_<index>``."""

from __future__ import annotations

import keras

from models.small import randomize

L = keras.layers


def _conv_like(step: dict, name: str):
    kind = step["kind"]
    common = {k: step[k] for k in ("kernel_size", "padding", "activation") if k in step}
    if kind == "conv":
        return L.Conv2D(
            step["filters"],
            strides=step["strides"],
            use_bias=step["use_bias"],
            dilation_rate=step["dilation_rate"],
            name=name,
            **common,
        )
    if kind == "depthwise":
        return L.DepthwiseConv2D(
            strides=step["strides"],
            use_bias=step["use_bias"],
            depth_multiplier=step["depth_multiplier"],
            name=name,
            **common,
        )
    if kind == "separable":
        return L.SeparableConv2D(step["filters"], name=name, **common)
    return L.Conv2DTranspose(
        step["filters"],
        step["kernel_size"],
        strides=step["strides"],
        padding=step["padding"],
        name=name,
    )


def _activation(step: dict, name: str):
    kind = step["kind"]
    if kind == "leaky_relu":
        return L.LeakyReLU(negative_slope=step["alpha"], name=name)
    if kind == "elu":
        return L.ELU(alpha=step["alpha"], name=name)
    if kind == "relu_max":
        return L.ReLU(max_value=6.0, negative_slope=step["alpha"], name=name)
    if kind == "prelu":
        return L.PReLU(shared_axes=[1, 2], name=name)
    if kind == "softmax":
        return L.Softmax(name=name)
    return L.Activation(step["activation"], name=name)


SIMPLE = {
    "bn": lambda s, n: L.BatchNormalization(
        center=s.get("center", True), scale=s.get("scale", True), name=n
    ),
    "max_pool": lambda s, n: L.MaxPooling2D(s["pool_size"], s["strides"], s["padding"], name=n),
    "avg_pool": lambda s, n: L.AveragePooling2D(s["pool_size"], s["strides"], s["padding"], name=n),
    "pad": lambda s, n: L.ZeroPadding2D(tuple(map(tuple, s["padding"])), name=n),
    "crop": lambda s, n: L.Cropping2D(tuple(map(tuple, s["cropping"])), name=n),
    "layernorm": lambda s, n: L.LayerNormalization(axis=s.get("axis", -1), name=n),
    "layernorm_v": lambda s, n: L.LayerNormalization(name=n),
    "unit_norm": lambda s, n: L.UnitNormalization(name=n),
    "groupnorm": lambda s, n: L.GroupNormalization(groups=s["groups"], name=n),
    "upsample": lambda s, n: L.UpSampling2D(s["size"], interpolation=s["interpolation"], name=n),
    "dropout": lambda s, n: L.Dropout(0.3, name=n),
    "gaussian_dropout": lambda s, n: L.GaussianDropout(0.2, name=n),
    "alpha_dropout": lambda s, n: L.AlphaDropout(0.2, name=n),
    "activity_regularization": lambda s, n: L.ActivityRegularization(0.01, 0.01, name=n),
    "depthwise1d": lambda s, n: L.DepthwiseConv1D(
        s["kernel_size"],
        padding=s["padding"],
        depth_multiplier=s["depth_multiplier"],
        activation=s["activation"],
        name=n,
    ),
    "separable1d": lambda s, n: L.SeparableConv1D(
        s["filters"], s["kernel_size"], padding=s["padding"], activation=s["activation"], name=n
    ),
    "spatial_dropout": lambda s, n: L.SpatialDropout2D(0.3, name=n),
    "gaussian_noise": lambda s, n: L.GaussianNoise(0.1, name=n),
    "embedding": lambda s, n: L.Embedding(
        s["input_dim"], s["output_dim"], mask_zero=s.get("mask_zero", False), name=n
    ),
    "conv1d": lambda s, n: L.Conv1D(
        s["filters"], s["kernel_size"], padding=s["padding"], activation=s["activation"], name=n
    ),
    "dense": lambda s, n: L.Dense(s["units"], activation=s.get("activation"), name=n),
    "lstm": lambda s, n: L.LSTM(s["units"], return_sequences=True, name=n),
    "gru": lambda s, n: L.GRU(s["units"], return_sequences=True, name=n),
    "bidir": lambda s, n: L.Bidirectional(
        L.LSTM(s["units"], return_sequences=True), merge_mode=s["merge"], name=n
    ),
    "max_pool1d": lambda s, n: L.MaxPooling1D(2, name=n),
    "upsample1d": lambda s, n: L.UpSampling1D(s["size"], name=n),
    # video (models.fuzz_extras): per-frame layers
    "td_conv": lambda s, n: L.TimeDistributed(
        L.Conv2D(s["filters"], 3, padding=s["padding"]), name=n
    ),
    "conv_lstm2d": lambda s, n: L.ConvLSTM2D(
        s["filters"], 3, padding=s["padding"], return_sequences=True, name=n
    ),
    "td_pool": lambda s, n: L.TimeDistributed(L.MaxPooling2D(2), name=n),
    "td_flatten": lambda s, n: L.TimeDistributed(L.Flatten(), name=n),
    "td_dense": lambda s, n: L.TimeDistributed(L.Dense(s["units"]), name=n),
}


def _state_chain(step: dict, x, name: str):
    """An RNN whose final states seed the next one, as an encoder's seed its decoder."""
    rnn = L.LSTM if step["cell"] == "lstm" else L.GRU
    first = rnn(step["units"], return_sequences=True, return_state=True, name=f"{name}_encoder")
    y, *states = first(x)
    return rnn(step["units"], return_sequences=True, name=name)(y, initial_state=states)


def _apply(step: dict, x, name: str, rank: int):
    kind = step["kind"]
    if kind in ("conv", "depthwise", "separable", "conv_transpose"):
        return _conv_like(step, name)(x)
    if kind in ("activation", "leaky_relu", "elu", "relu_max", "prelu", "softmax"):
        return _activation(step, name)(x)
    if kind == "residual":
        y = L.Conv2D(x.shape[-1], 3, padding="same", name=f"{name}_conv")(x)
        return L.Add(name=name)([x, y])
    if kind == "concat":
        y = L.Conv2D(step["filters"], 1, name=f"{name}_conv")(x)
        return L.Concatenate(name=name)([x, y])
    if kind == "attention":
        layer = L.MultiHeadAttention(step["num_heads"], step["key_dim"], name=name)
        return layer(x, x)
    if kind == "state_chain":
        return _state_chain(step, x, name)
    if kind == "dropout" and rank == 3:
        return L.SpatialDropout1D(0.3, name=name)(x)
    return SIMPLE[kind](step, name)(x)


def _head(spec: dict, x, extra):
    head = spec["head"]
    if head in ("flatten",) or (head == "dense" and len(x.shape) > 2):
        x = L.Flatten(name="head_flatten")(x)
    elif head in ("gap", "gmp"):
        x = (L.GlobalAveragePooling2D if head == "gap" else L.GlobalMaxPooling2D)(name=head)(x)
    elif head in ("gap1d", "gmp1d"):
        pool = L.GlobalAveragePooling1D if head == "gap1d" else L.GlobalMaxPooling1D
        x = pool(name=head)(x)
    elif head == "last_rnn":
        x = L.GRU(spec["units"] + 1, name="head_gru")(x)
    elif head == "map":
        return x
    if extra is not None:
        x = L.Concatenate(name="join")([x, L.Dense(3, name="extra_dense")(extra)])
    name = spec.get("output_name") or "out"
    return L.Dense(spec["units"], activation=spec["head_activation"], name=name)(x)


def build(spec: dict) -> keras.Model:
    """The spec's model; raises (a Keras error) if its steps no longer fit together."""
    keras.utils.set_random_seed(spec["seed"])
    dtype = "int32" if spec["input"] == "tokens" else "float32"
    inputs = [keras.Input(tuple(spec["shape"]), dtype=dtype, name="x")]
    x = inputs[0]
    if spec.get("masking"):  # padded steps are all zeros (pipeline.export.cases)
        x = L.Masking(0.0, name="masking")(x)
    last = len(spec["steps"]) - 1
    for index, step in enumerate(spec["steps"]):
        name = f"{step['kind']}_{index}"
        if index == last and spec["head"] == "map" and spec.get("output_name"):
            name = spec["output_name"]  # the output layer, named like a torch.onnx value
        x = _apply(step, x, name, len(x.shape))
    extra = None
    if spec.get("second_input"):
        inputs.append(keras.Input((4,), name="v"))
        extra = inputs[1]
    outputs = [_head(spec, x, extra)]
    if spec.get("second_output"):
        flat = outputs[0] if len(outputs[0].shape) == 2 else L.Flatten(name="aux_flat")(x)
        outputs.append(L.Dense(2, name="aux")(flat))
    if spec.get("dict_inputs"):
        inputs = {tensor.name: tensor for tensor in inputs}
    model = keras.Model(
        inputs, outputs if len(outputs) > 1 else outputs[0], name=f"fuzz_{spec['seed']}"
    )
    return randomize(model)
