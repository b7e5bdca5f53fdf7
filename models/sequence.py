"""Small Keras sequence models: recurrent layers (one form each), with every weight randomized
(see models.small.randomize). Sequence lengths are left open (None), so the check runs them
at two lengths."""

from __future__ import annotations

import keras

from models.small import SEED, randomize

L = keras.layers
VOCAB = 50


def lstm_text() -> keras.Model:
    """Token ids -> Embedding -> stacked LSTMs (sequence, then go_backwards last) -> Dense."""
    keras.utils.set_random_seed(SEED)
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = L.Embedding(VOCAB, 8, name="embed")(tokens)
    x = L.LSTM(16, return_sequences=True, name="lstm_seq")(x)
    x = L.LSTM(12, go_backwards=True, name="lstm_back")(x)
    outputs = L.Dense(3, name="classify")(x)
    return randomize(keras.Model(tokens, outputs, name="lstm_text"))


def gru_rnn() -> keras.Model:
    """GRU (reset_after) and SimpleRNN (relu), returning sequences and last steps."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((None, 6), name="series")
    x = L.GRU(10, return_sequences=True, name="gru_seq")(inputs)
    x = L.SimpleRNN(8, return_sequences=True, activation="relu", name="rnn_relu")(x)
    x = L.GRU(7, go_backwards=True, name="gru_back")(x)
    outputs = L.Dense(2, name="regress")(x)
    return randomize(keras.Model(inputs, outputs, name="gru_rnn"))


def bidirectional() -> keras.Model:
    """Bidirectional LSTM (concat, sequence) -> Bidirectional GRU (sum, last) -> Dense."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((None, 5), name="series")
    x = L.Bidirectional(L.LSTM(8, return_sequences=True), name="bi_lstm")(inputs)
    x = L.Bidirectional(L.GRU(6), merge_mode="sum", name="bi_gru")(x)
    outputs = L.Dense(4, activation="softmax", name="classify")(x)
    return randomize(keras.Model(inputs, outputs, name="bidirectional"))


def conv1d() -> keras.Model:
    """Conv1D (causal, same + dilation, strided valid), MaxPooling1D, TimeDistributed(Dense),
    GlobalAveragePooling1D."""
    keras.utils.set_random_seed(SEED)
    inputs = keras.Input((None, 6), name="series")
    x = L.Conv1D(8, 3, padding="causal", activation="relu", name="causal")(inputs)
    x = L.Conv1D(8, 3, padding="same", dilation_rate=2, name="dilated")(x)
    x = L.MaxPooling1D(2, name="pool")(x)
    x = L.Conv1D(6, 2, strides=2, name="strided")(x)
    x = L.TimeDistributed(L.Dense(5), name="per_step")(x)
    x = L.GlobalAveragePooling1D(name="average")(x)
    outputs = L.Dense(3, name="classify")(x)
    return randomize(keras.Model(inputs, outputs, name="conv1d"))


def transformer() -> keras.Model:
    """One encoder block: token + learned position embeddings (any length up to 32), causal
    self-attention, LayerNorm, a Dense/GELU (exact) feed-forward, residual adds; then unmasked
    self-attention."""
    keras.utils.set_random_seed(SEED)
    max_steps, width = 32, 16
    tokens = keras.Input((None,), dtype="int32", name="tokens")
    x = L.Embedding(VOCAB, width, name="token_embed")(tokens)
    steps = keras.ops.cumsum(keras.ops.ones_like(tokens), axis=1) - 1  # 0, 1, ... per row
    positions = L.Embedding(max_steps, width, name="position_embed")(steps)
    x = L.Add(name="add_position")([x, positions])
    attended = L.MultiHeadAttention(2, 8, name="attention")(x, x, use_causal_mask=True)
    x = L.LayerNormalization(name="norm1")(L.Add(name="residual1")([x, attended]))
    hidden = L.Dense(32, activation="gelu", name="ffn_in")(x)
    x = L.Add(name="residual2")([x, L.Dense(width, name="ffn_out")(hidden)])
    x = L.LayerNormalization(name="norm2")(x)
    x = L.Add(name="residual3")([x, L.MultiHeadAttention(4, 4, name="attention2")(x, x)])
    outputs = L.Dense(VOCAB, name="next_token")(x)
    return randomize(keras.Model(tokens, outputs, name="transformer"))
