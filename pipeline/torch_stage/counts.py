"""The emitted module's counts the check holds to Keras': parameters (with the buffers
torch.nn modules own), the emitter's constant values, and the frozen parameters."""

from __future__ import annotations

import torch

from pipeline import metadata


def param_count(model: torch.nn.Module) -> int:
    """Parameters plus the buffers torch.nn modules own (BatchNorm running statistics): what
    Keras counts as its trainable + non-trainable weights, less the values Keras computes
    with but does not train (stage 1 says which, ``inference_weight_count``). BatchNorm's
    ``num_batches_tracked`` is torch's bookkeeping and not counted; nor are the emitted
    module's own constant buffers (``constant_count``)."""
    buffers = sum(
        b.numel()
        for name, b in model.named_buffers()
        if "." in name and not name.endswith("num_batches_tracked")
    )
    return sum(p.numel() for p in model.parameters()) + buffers


def constant_count(model: torch.nn.Module) -> int:
    """Values of the constant buffers the emitter registered on the module itself (a fixed
    positional table, Normalization's folded offset and scale)."""
    return sum(b.numel() for name, b in model.named_buffers() if "." not in name)


def frozen_counts(model: torch.nn.Module, props: dict) -> dict[str, int]:
    """Parameters that do not require grad, and how many the layers Keras freezes hold: the
    two must be equal (a frozen base stays frozen, nothing else is)."""
    return {
        "frozen_param_count": sum(p.numel() for p in model.parameters() if not p.requires_grad),
        "keras_frozen_param_count": int(props.get(metadata.FROZEN_PARAM_COUNT, 0)),
    }


def structure(model: torch.nn.Module) -> dict:
    """The module types it uses, and each attribute of the module (``[name, type,
    parameters]``, in order) for the report's layer table."""
    return {
        "module_types": sorted({type(m).__name__ for m in model.modules() if m is not model}),
        "modules": [
            [name, type(child).__name__, sum(p.numel() for p in child.parameters())]
            for name, child in model.named_children()
        ],
    }
