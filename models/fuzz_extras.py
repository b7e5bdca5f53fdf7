"""The fuzzer's second round of draws (``models.fuzz``): masks, RNN states, TimeDistributed
video, dict inputs and UpSampling1D, added to a spec from a random stream of their own
(``random.Random("extras:<seed>")``), so that the first round's draws of every seed stay
what they were and each extra can be told apart in a shrunk reproducer:

- tokens: ``Embedding(mask_zero=True)`` (``mask_zero``); sequences: a ``Masking`` layer
  first (``masking``), the reference cases then padded at the end per row;
- ``state_chain``: an LSTM or GRU returning its states, which seed the next one
  (``initial_state=``), as an encoder seeds its decoder;
- video: a sequence spec whose steps run on per-frame features made by
  ``TimeDistributed(Conv2D)``, a ``ConvLSTM2D`` over the frames (drawn from a stream of its
  own, ``random.Random("conv_lstm:<seed>")``, so the other draws stay as they were),
  ``TimeDistributed(MaxPooling2D)``, ``TimeDistributed(Flatten)`` and
  ``TimeDistributed(Dense)``;
- ``upsample1d``: ``UpSampling1D`` on a sequence;
- ``dict_inputs``: the two-input models take their inputs as a dict.
"""

from __future__ import annotations

import random


def add(spec: dict) -> dict:
    """``spec`` with its second-round draws (a new dict)."""
    rng = random.Random(f"extras:{spec['seed']}")
    spec = {**spec, "steps": [dict(s) for s in spec["steps"]]}
    steps = spec["steps"]
    if spec["input"] == "tokens" and rng.random() < 0.4:
        steps[0]["mask_zero"] = True
    if spec["input"] == "sequence" and rng.random() < 0.25:
        spec["masking"] = True
    if spec["input"] in ("sequence", "tokens"):
        if rng.random() < 0.25:
            steps.insert(
                rng.randint(1 if spec["input"] == "tokens" else 0, len(steps)), _state(rng)
            )
        if rng.random() < 0.2:
            steps.append({"kind": "upsample1d", "size": rng.choice((2, 3))})
        if spec["input"] == "sequence" and not spec.get("masking") and rng.random() < 0.25:
            _as_video(spec, rng)
    if spec.get("second_input") and rng.random() < 0.5:
        spec["dict_inputs"] = True
    return spec


def _state(rng: random.Random) -> dict:
    return {"kind": "state_chain", "cell": rng.choice(("lstm", "gru")), "units": rng.randint(2, 6)}


def _as_video(spec: dict, rng: random.Random) -> None:
    """Frames of [h, w, c] in place of the sequence's features, brought back to its feature
    count by per-frame layers."""
    t, f = spec["shape"]
    h, w, c = rng.randint(4, 8), rng.randint(4, 8), rng.randint(1, 3)
    frames = [{"kind": "td_conv", "filters": rng.randint(1, 4), "padding": "same"}]
    own = random.Random(f"conv_lstm:{spec['seed']}")
    if own.random() < 0.4:  # valid padding leaves h, w >= 2 for the pooling
        padding = own.choice(("same", "valid"))
        frames.append({"kind": "conv_lstm2d", "filters": own.randint(1, 4), "padding": padding})
    if rng.random() < 0.6:
        frames.append({"kind": "td_pool"})
    frames += [{"kind": "td_flatten"}, {"kind": "td_dense", "units": f}]
    spec["input"], spec["shape"] = "video", [t, h, w, c]
    spec["steps"] = frames + spec["steps"]
