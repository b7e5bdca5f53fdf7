"""Random Keras models for the fuzzer (``python -m pipeline fuzz``): ``MODEL=fuzz:<seed>``.

A seed gives a *spec* (plain JSON: the input and a list of steps, each a Keras layer kind and
its arguments, drawn with ``random.Random(seed)`` while tracking the shape) and the spec gives
the model (``models.fuzz_build``), every weight randomized (BatchNorm statistics too). Specs
are what the fuzzer shrinks: a step deleted is a smaller model with the same failure, or one
that no longer builds (then the step stays).

The draws cover the supported layers with random configurations: image, sequence, token and
vector inputs (a single channel too); chains with residual adds and concatenations; a second
input (a vector joined before the head) and a second output; kernels, strides, "same"/"valid"
padding, dilation, activations, use_bias, keepdims, norm axes; every Dropout-like layer
inside conv stacks; DepthwiseConv1D and SeparableConv1D; an output named as torch.onnx names
its own values (``conv2d``, ``linear``, ...). A second round (``models.fuzz_extras``, a random
stream of its own) adds masks, RNN states, TimeDistributed video, dict inputs, UpSampling1D.
"""

from __future__ import annotations

import json
import random

from models import fuzz_extras

PREFIX = "fuzz:"
ACTIVATIONS = (
    None,
    "relu",
    "sigmoid",
    "tanh",
    "gelu",
    "swish",
    "elu",
    "selu",
    "softplus",
    "relu6",
    "hard_sigmoid",
    "leaky_relu",
    "linear",
    "softsign",
    "exponential",
)


# the layers that compute nothing at inference (layout-free, element by element)
DROPOUTS = (
    "dropout",
    "gaussian_noise",
    "gaussian_dropout",
    "alpha_dropout",
    "activity_regularization",
)
# names torch.onnx gives its values (after the aten op) that a Keras output may have too
INTERNAL_NAMES = ("conv2d", "conv2d_1", "conv1d", "linear", "relu", "sigmoid", "add", "cat")


def _act(rng: random.Random):
    return rng.choice(ACTIVATIONS)


def _image_step(rng: random.Random, h: int, w: int, c: int) -> dict:
    """One step on an [H, W, C] feature map (its arguments fit that shape)."""
    small = min(h, w)
    kinds = [
        "conv",
        "depthwise",
        "separable",
        "bn",
        "act",
        "pad",
        "residual",
        "concat",
        "layernorm",
        "dropout",
        "conv_transpose",
    ]
    kinds += ["pool"] if small >= 2 else []
    kinds += ["crop"] if small >= 4 else []
    kinds += ["upsample"] if max(h, w) <= 8 else []
    kinds += ["groupnorm"] if c % 2 == 0 else []
    kind = rng.choice(kinds)
    k = rng.choice([k for k in (1, 2, 3, 4, 5) if k <= small] or [1])
    strides = rng.choice((1, 1, 2)) if small >= 2 else 1
    padding = rng.choice(("valid", "same"))
    if kind == "conv":
        dilation = rng.choice((1, 2)) if strides == 1 and 2 * (k - 1) + 1 <= small else 1
        return {
            "kind": kind,
            "filters": rng.randint(1, 8),
            "kernel_size": k,
            "strides": strides,
            "padding": padding,
            "dilation_rate": dilation,
            "activation": _act(rng),
            "use_bias": rng.random() < 0.8,
        }
    if kind == "depthwise":
        return {
            "kind": kind,
            "kernel_size": k,
            "strides": strides,
            "padding": padding,
            "depth_multiplier": rng.choice((1, 2)),
            "activation": _act(rng),
            "use_bias": rng.random() < 0.8,
        }
    if kind == "separable":
        return {
            "kind": kind,
            "filters": rng.randint(1, 8),
            "kernel_size": k,
            "padding": padding,
            "activation": _act(rng),
        }
    if kind == "conv_transpose":
        return {
            "kind": kind,
            "filters": rng.randint(1, 6),
            "kernel_size": rng.choice((2, 3)),
            "strides": rng.choice((1, 2)),
            "padding": padding,
        }
    if kind == "pool":
        size = rng.choice([s for s in (2, 3) if s <= small])
        return {
            "kind": rng.choice(("max_pool", "avg_pool")),
            "pool_size": size,
            "strides": rng.choice((None, 1, 2)),
            "padding": padding,
        }
    if kind == "bn":
        return {"kind": kind, "center": rng.random() < 0.8, "scale": rng.random() < 0.8}
    if kind == "act":
        return {
            "kind": rng.choice(("activation", "leaky_relu", "elu", "relu_max", "prelu", "softmax")),
            "activation": rng.choice(ACTIVATIONS[1:]),
            "alpha": rng.choice((0.1, 0.3, 0.5)),
        }
    if kind == "pad":
        return {"kind": kind, "padding": [[rng.randint(0, 2), rng.randint(0, 2)] for _ in "hw"]}
    if kind == "crop":
        return {"kind": kind, "cropping": [[rng.randint(0, 1), rng.randint(0, 1)] for _ in "hw"]}
    if kind == "layernorm":
        return {"kind": kind, "axis": rng.choice(([-1], [1, 2, 3], [1, 2], [1], [2]))}
    if kind == "groupnorm":
        return {"kind": kind, "groups": rng.choice([g for g in (1, 2, c) if c % g == 0])}
    if kind == "upsample":
        return {
            "kind": kind,
            "size": rng.choice((2, 3)),
            "interpolation": rng.choice(("nearest", "bilinear")),
        }
    if kind == "dropout":
        return {"kind": rng.choice(("spatial_dropout", *DROPOUTS))}
    return {"kind": kind, "filters": rng.randint(1, 6)}  # residual, concat


def _sequence_step(rng: random.Random, t: int, f: int) -> dict:
    kinds = ["conv1d", "dense", "lstm", "gru", "layernorm", "bn", "act", "dropout", "bidir"]
    kinds += ["depthwise1d", "separable1d"]
    kinds += ["max_pool1d"] if t >= 2 else []
    kinds += ["attention"] if f % 2 == 0 else []
    kind = rng.choice(kinds)
    if kind == "conv1d":
        k = rng.choice([k for k in (1, 2, 3) if k <= t] or [1])
        return {
            "kind": kind,
            "filters": rng.randint(2, 8),
            "kernel_size": k,
            "padding": rng.choice(("valid", "same", "causal")),
            "activation": _act(rng),
        }
    if kind in ("depthwise1d", "separable1d"):
        k = rng.choice([k for k in (1, 2, 3) if k <= t] or [1])
        step = {"kind": kind, "kernel_size": k, "padding": rng.choice(("valid", "same"))}
        if kind == "depthwise1d":
            return {**step, "depth_multiplier": rng.choice((1, 2)), "activation": _act(rng)}
        return {**step, "filters": rng.randint(1, 6), "activation": _act(rng)}
    if kind == "dropout":  # "dropout" itself on a sequence: SpatialDropout1D (fuzz_build)
        return {"kind": rng.choice(DROPOUTS)}
    if kind in ("lstm", "gru", "bidir"):
        return {"kind": kind, "units": rng.randint(2, 6), "merge": rng.choice(("concat", "sum"))}
    if kind == "dense":
        return {"kind": kind, "units": rng.randint(2, 8), "activation": _act(rng)}
    if kind == "attention":
        return {"kind": kind, "num_heads": 2, "key_dim": f // 2}
    if kind == "act":
        return {"kind": "activation", "activation": rng.choice(ACTIVATIONS[1:])}
    if kind == "layernorm":
        return {"kind": kind, "axis": rng.choice(([-1], [-1], [1], [1, 2]))}
    return {"kind": kind}


def spec(seed: int) -> dict:
    """The model of ``seed``: its input, steps, head and extras, as JSON-able data."""
    rng = random.Random(seed)
    source = rng.choice(("image", "image", "image", "sequence", "tokens", "vector"))
    steps = []
    if source == "image":
        h, w, c = rng.randint(5, 14), rng.randint(5, 14), rng.randint(1, 4)
        shape = [h, w, c]
        for _ in range(rng.randint(1, 6)):
            steps.append(_image_step(rng, h, w, c))
            h, w, c = _image_shape(steps[-1], h, w, c)
            if min(h, w) < 1:
                steps.pop()
                break
        head = rng.choice(("flatten", "gap", "gmp", "map"))
    elif source in ("sequence", "tokens"):
        t, f = rng.randint(3, 10), rng.choice((1, 2, 3, 4, 5, 6))  # one channel too
        shape = [t, f] if source == "sequence" else [t]
        if source == "tokens":
            steps.append({"kind": "embedding", "input_dim": 20, "output_dim": f})
        for _ in range(rng.randint(1, 4)):
            steps.append(_sequence_step(rng, t, f))
            t, f = _sequence_shape(steps[-1], t, f)
        head = rng.choice(("gap1d", "gmp1d", "flatten", "last_rnn", "map"))
    else:
        shape = [rng.randint(2, 12)]
        steps = [
            rng.choice(
                (
                    {"kind": "dense", "units": rng.randint(2, 8), "activation": _act(rng)},
                    {"kind": "bn"},
                    {"kind": "layernorm_v"},
                    {"kind": "unit_norm"},
                )
            )
            for _ in range(rng.randint(1, 4))
        ]
        head = "dense"
    return fuzz_extras.add(
        {
            "seed": seed,
            "input": source,
            "shape": shape,
            "steps": steps,
            "head": head,
            "units": rng.randint(1, 5),
            "head_activation": rng.choice((None, "softmax", "sigmoid")),
            "second_input": rng.random() < 0.2 and head != "map",
            "second_output": rng.random() < 0.2,
            "output_name": rng.choice(INTERNAL_NAMES) if rng.random() < 0.3 else None,
        }
    )


def _image_shape(step: dict, h: int, w: int, c: int) -> tuple[int, int, int]:
    """The feature map's shape after ``step`` (as Keras computes it)."""
    kind = step["kind"]
    if kind in ("conv", "depthwise", "separable", "max_pool", "avg_pool"):
        k = step.get("kernel_size", step.get("pool_size"))
        s = step.get("strides") or (step.get("pool_size") if "pool" in kind else 1)
        d = step.get("dilation_rate", 1)
        extent = d * (k - 1) + 1
        size = (
            (lambda n: -(-n // s))
            if step["padding"] == "same"
            else (lambda n: (n - extent) // s + 1)
        )
        h, w = size(h), size(w)
        c = {
            "conv": step.get("filters"),
            "separable": step.get("filters"),
            "depthwise": c * step.get("depth_multiplier", 1),
        }.get(kind, c)
    elif kind == "conv_transpose":
        s, k = step["strides"], step["kernel_size"]
        size = (lambda n: n * s) if step["padding"] == "same" else (lambda n: n * s + max(k - s, 0))
        h, w, c = size(h), size(w), step["filters"]
    elif kind == "pad":
        h, w = h + sum(step["padding"][0]), w + sum(step["padding"][1])
    elif kind == "crop":
        h, w = h - sum(step["cropping"][0]), w - sum(step["cropping"][1])
    elif kind == "upsample":
        h, w = h * step["size"], w * step["size"]
    elif kind == "concat":
        c = c + step["filters"]
    return h, w, c


def _sequence_shape(step: dict, t: int, f: int) -> tuple[int, int]:
    kind = step["kind"]
    if kind == "conv1d":
        t = t - step["kernel_size"] + 1 if step["padding"] == "valid" else t
        return t, step["filters"]
    if kind in ("dense", "lstm", "gru"):
        return t, step["units"]
    if kind in ("depthwise1d", "separable1d"):
        t = t - step["kernel_size"] + 1 if step["padding"] == "valid" else t
        return t, step.get("filters", f * step.get("depth_multiplier", 1))
    if kind == "bidir":
        return t, step["units"] * (2 if step["merge"] == "concat" else 1)
    if kind == "max_pool1d":
        return t // 2, f
    return t, f


def to_json(seed: int) -> str:
    return json.dumps(spec(seed), indent=1)
