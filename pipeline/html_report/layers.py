"""The report page's layer table: each Keras layer next to the torch attribute(s) it became,
with parameter counts on both sides, and diagnose's per-layer errors after a failure.

Which attribute holds a layer is not guessed from names alone: the torch stage found each
Keras weight's values in a parameter (``weights_as_parameters.held_by``), so a layer with
weights is shown next to the attribute that really holds them. A layer without weights is
shown next to the attribute named after it, if there is one, else as computed inline in
``forward()`` (an activation, an Add)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class LayerRow:
    layer: str
    cls: str
    keras_params: int = 0  # the values of the weights Keras trains
    attributes: list[str] = field(default_factory=list)
    errors: dict[str, float | None] = field(default_factory=dict)  # diagnose, per artifact
    first_diverging: bool = False


def _owner(path: str, names: set[str]) -> str | None:
    """The Keras layer a weight path (``block1_conv1/kernel``) belongs to."""
    return next((part for part in path.split("/")[:-1] if part in names), None)


def rows(
    keras_layers: list[list[str]],
    weight_sizes: dict[str, int],
    held_by: dict[str, list[str]],
    modules: list[list],
    diagnosis: dict | None = None,
) -> tuple[list[LayerRow], list[list]]:
    """(a row per Keras layer in model order, the torch attributes no row claims)."""
    table = {name: LayerRow(name, cls) for name, cls in keras_layers}
    attributes, names = {m[0] for m in modules}, set(table)
    for path, size in weight_sizes.items():
        owner = _owner(path, names)
        if owner is None:
            continue
        table[owner].keras_params += size
        for param in held_by.get(path, []):
            attribute = param.split(".")[0]
            if attribute in attributes and attribute not in table[owner].attributes:
                table[owner].attributes.append(attribute)
    for row in table.values():
        if not row.attributes:
            row.attributes = [
                a for a in sorted(attributes) if a == row.layer or a.startswith(f"{row.layer}_")
            ]
    for found in (diagnosis or {}).get("layers", []):
        if found["layer"] in table:
            table[found["layer"]].errors = found["errors"]
            table[found["layer"]].first_diverging = (
                found["layer"] == diagnosis["first_diverging_layer"]
            )
    claimed = {a for row in table.values() for a in row.attributes}
    return list(table.values()), [m for m in modules if m[0] not in claimed]
