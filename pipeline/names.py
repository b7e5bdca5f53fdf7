"""Free names: shared by the passes (new nodes and initializers) and the torch stage
(``model.onnx``'s values renamed after stage 2's)."""

from __future__ import annotations


def unique_name(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2``, ``name_3``, ... the first not in ``taken`` (which it joins)."""
    candidate, k = name, 1
    while candidate in taken:
        k += 1
        candidate = f"{name}_{k}"
    taken.add(candidate)
    return candidate
