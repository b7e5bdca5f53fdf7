"""Models of the kinds users bring that once broke a conversion (issues 26, 23), every weight
randomized (see models.small.randomize): a conv autoencoder, the common CNN head with a
Dropout, and a WaveNet-style stack on a single-channel signal."""

from __future__ import annotations

import keras

from models.small import SEED, randomize

L = keras.layers


def autoencoder() -> keras.Model:
    """Conv2D/MaxPooling2D down, Conv2DTranspose up, a Conv2D(sigmoid) last: torch.onnx names
    its third conv's output ``conv2d_2``, the Keras output's name, which model.onnx once
    defined twice."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((16, 16, 1), name="image")
    x = L.Conv2D(8, 3, padding="same", activation="relu", name="conv2d")(inputs)
    x = L.MaxPooling2D(2, padding="same", name="pool1")(x)
    x = L.Conv2D(4, 3, padding="same", activation="relu", name="conv2d_1")(x)
    x = L.MaxPooling2D(2, padding="same", name="pool2")(x)
    x = L.Conv2DTranspose(4, 3, strides=2, padding="same", activation="relu", name="up1")(x)
    x = L.Conv2DTranspose(8, 3, strides=2, padding="same", activation="relu", name="up2")(x)
    outputs = L.Conv2D(1, 3, padding="same", activation="sigmoid", name="conv2d_2")(x)
    return randomize(keras.Model(inputs, outputs, name="autoencoder"))


def cnn_head() -> keras.Model:
    """Conv2D -> BatchNormalization -> Activation('relu') -> Dropout -> Flatten -> Dense, the
    most common CNN head (a Transpose once stayed between the ReLU and the Dropout); then a
    SpatialDropout2D and an AlphaDropout in a second branch."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((12, 12, 3), name="image")
    x = L.Conv2D(8, 3, name="conv")(inputs)
    x = L.BatchNormalization(name="bn")(x)
    x = L.Activation("relu", name="relu")(x)
    x = L.Dropout(0.25, name="dropout")(x)
    y = L.SpatialDropout2D(0.2, name="spatial_dropout")(x)
    y = L.Conv2D(4, 3, name="conv_b")(y)
    y = L.AlphaDropout(0.1, name="alpha_dropout")(y)
    x = L.Concatenate(name="join")([L.Flatten(name="flatten")(x), L.Flatten(name="flatten_b")(y)])
    outputs = L.Dense(10, activation="softmax", name="classify")(x)
    return randomize(keras.Model(inputs, outputs, name="cnn_head"))


def wavenet() -> keras.Model:
    """A single-channel signal through causal Conv1D(8, 2) at dilations 1, 2, 4, then a
    DepthwiseConv1D and a SeparableConv1D (each once a 2-D conv with its bias a buffer)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((32, 1), name="signal")
    x = inputs
    for rate in (1, 2, 4):
        x = L.Conv1D(8, 2, dilation_rate=rate, padding="causal", name=f"dilated_{rate}")(x)
    x = L.DepthwiseConv1D(3, depth_multiplier=2, name="depthwise")(x)
    x = L.SeparableConv1D(4, 3, name="separable")(x)
    x = L.GlobalAveragePooling1D(name="pool")(x)
    outputs = L.Dense(2, name="regress")(x)
    return randomize(keras.Model(inputs, outputs, name="wavenet"))


def video_frames() -> keras.Model:
    """A clip of frames: TimeDistributed(Conv2D), TimeDistributed(MaxPooling2D) and
    TimeDistributed(Flatten) on each frame, UpSampling1D over time, an LSTM and a Dense.
    Each TimeDistributed and the UpSampling1D reshape to a target computed from the batch
    (issue 23: once refused by fold_shapes)."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((4, 8, 8, 3), name="frames")
    x = L.TimeDistributed(L.Conv2D(4, 3, activation="relu"), name="frame_conv")(inputs)
    x = L.TimeDistributed(L.MaxPooling2D(2), name="frame_pool")(x)
    x = L.TimeDistributed(L.Flatten(), name="frame_flatten")(x)
    x = L.UpSampling1D(2, name="upsample_time")(x)
    x = L.LSTM(6, name="lstm")(x)
    outputs = L.Dense(2, name="score")(x)
    return randomize(keras.Model(inputs, outputs, name="video_frames"))


def conv_lstm() -> keras.Model:
    """Next-frame style video model: two ConvLSTM2D (the first returning every step's map,
    "same" padding; the second its last, "valid", dilated), a Conv2D and a classifier head."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((4, 10, 10, 2), name="frames")
    x = L.ConvLSTM2D(4, 3, padding="same", return_sequences=True, name="conv_lstm_1")(inputs)
    x = L.ConvLSTM2D(6, 2, dilation_rate=2, name="conv_lstm_2")(x)
    x = L.Conv2D(3, 1, activation="relu", name="mix")(x)
    x = L.GlobalAveragePooling2D(name="pool")(x)
    outputs = L.Dense(2, name="score")(x)
    return randomize(keras.Model(inputs, outputs, name="conv_lstm"))


def conv_lstm1d() -> keras.Model:
    """ConvLSTM1D (strided) over a sequence of signals (steps, length, channels), its last
    map flattened into a Dense."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((5, 12, 3), name="signals")
    x = L.ConvLSTM1D(4, 3, strides=2, name="conv_lstm")(inputs)
    x = L.Flatten(name="flatten")(x)
    outputs = L.Dense(2, name="score")(x)
    return randomize(keras.Model(inputs, outputs, name="conv_lstm1d"))


def seq2seq() -> keras.Model:
    """The classic encoder-decoder: an LSTM encoder's final states (return_state=True) seed
    the decoder LSTM (initial_state=), which reads the target sequence shifted (teacher
    forcing), a TimeDistributed(Dense, softmax) on top; a GRU returning its state beside."""
    keras.utils.set_random_seed(SEED)
    source = keras.Input((7, 5), name="source")
    target = keras.Input((4, 3), name="target")
    _, h, c = L.LSTM(6, return_state=True, name="encoder")(source)
    x = L.LSTM(6, return_sequences=True, name="decoder")(target, initial_state=[h, c])
    words = L.TimeDistributed(L.Dense(3, activation="softmax"), name="words")(x)
    _, state = L.GRU(4, return_state=True, name="summary")(source)
    return randomize(keras.Model([source, target], [words, state], name="seq2seq"))


def dict_io() -> keras.Model:
    """Inputs and outputs as dicts, keras-hub's backbones' interface: ``token_ids`` and
    ``segment_ids`` in (their embeddings summed), ``sequence_output`` and ``pooled_output``
    out (tf2onnx's from_keras once crashed calling it on a list)."""
    keras.utils.set_random_seed(SEED)
    ids = keras.Input((6,), dtype="int32", name="token_ids")
    segments = keras.Input((6,), dtype="int32", name="segment_ids")
    x = L.Embedding(20, 8, name="token_embedding")(ids)
    x = L.Add(name="add")([x, L.Embedding(2, 8, name="segment_embedding")(segments)])
    x = L.Dense(4, name="project")(x)
    pooled = L.GlobalAveragePooling1D(name="pool")(x)
    inputs = {"token_ids": ids, "segment_ids": segments}
    outputs = {"sequence_output": x, "pooled_output": pooled}
    return randomize(keras.Model(inputs, outputs, name="dict_io"))


def masked_text() -> keras.Model:
    """Token ids padded with 0 and masked (``Embedding(mask_zero=True)``): a Bidirectional
    LSTM's sequence, then a GRU's last output and a GlobalAveragePooling1D, each over the
    unmasked steps only, as Keras computes them (issue 23)."""
    keras.utils.set_random_seed(SEED)
    tokens = keras.Input((12,), dtype="int32", name="tokens")
    x = L.Embedding(40, 8, mask_zero=True, name="embed")(tokens)
    x = L.Bidirectional(L.LSTM(6, return_sequences=True), name="bi_lstm")(x)
    last = L.GRU(5, name="gru")(x)
    pooled = L.GlobalAveragePooling1D(name="pool")(x)
    x = L.Concatenate(name="join")([last, pooled])
    outputs = L.Dense(3, activation="softmax", name="classify")(x)
    return randomize(keras.Model(tokens, outputs, name="masked_text"))


def masked_frames() -> keras.Model:
    """Feature frames padded with zero vectors and masked by a ``Masking`` layer: a
    go_backwards SimpleRNN's sequence and an LSTM's last output over the unmasked frames."""
    keras.utils.set_random_seed(SEED)
    frames = keras.Input((10, 4), name="frames")
    x = L.Masking(0.0, name="mask")(frames)
    x = L.SimpleRNN(6, return_sequences=True, go_backwards=True, name="rnn")(x)
    x = L.LSTM(5, name="lstm")(x)
    outputs = L.Dense(2, name="regress")(x)
    return randomize(keras.Model(frames, outputs, name="masked_frames"))


def masked_transformer() -> keras.Model:
    """An encoder block over padded token ids: MultiHeadAttention (with attention dropout:
    Keras' masked softmax) under the padding mask of ``Embedding(mask_zero=True)``, a
    residual and LayerNormalization, then a causal MultiHeadAttention, which gets no mask
    (Keras' attention consumes it), and per-step outputs, padded steps included (issue 23)."""
    keras.utils.set_random_seed(SEED)
    tokens = keras.Input((10,), dtype="int32", name="tokens")
    x = L.Embedding(40, 8, mask_zero=True, name="embed")(tokens)
    y = L.MultiHeadAttention(2, 4, dropout=0.1, name="attention")(x, x)
    x = L.LayerNormalization(name="norm")(L.Add(name="residual")([x, y]))
    y = L.MultiHeadAttention(2, 4, name="causal_attention")(x, x, use_causal_mask=True)
    x = L.Add(name="residual_2")([x, y])
    outputs = L.Dense(3, name="per_step")(x)
    return randomize(keras.Model(tokens, outputs, name="masked_transformer"))
