"""docs/zoo.md's rows: the weights-as-parameters column says yes only when every Keras
weight told apart by value is in an nn.Parameter."""

from __future__ import annotations

from pipeline.zoo.table import table


def _row(weights) -> dict:
    return {"model": "m", "ok": True, "params": 10, "seconds": {"export": 1.0}, "weights": weights}


def _cells(row: dict) -> list[str]:
    return [c.strip() for c in table([row]).splitlines()[-1].strip("|").split("|")]


def _last_cell(row: dict) -> str:
    """The weights-as-parameters column."""
    return _cells(row)[9]


def test_all_weights_in_parameters_is_yes_with_the_count():
    found = {"keras_weights": 12, "constant": 2, "not_parameters": [], "passed": True}
    assert _last_cell(_row(found)) == "yes (10)"


def test_a_weight_in_a_buffer_is_no():
    wrong = [{"weight": "conv/bias", "buffers": ["conv_add_const"]}]
    found = {"keras_weights": 12, "constant": 2, "not_parameters": wrong, "passed": False}
    assert _last_cell(_row(found)) == "NO (1 of 10)"


def test_a_row_without_a_check_says_nothing():
    assert _last_cell(_row(None)) == "-"
    assert "| weights as parameters | convert / floor |" in table([_row(None)]).splitlines()[0]
    assert _cells(_row(None))[10] == "-"  # no floor measured


def test_the_conversion_time_is_a_ratio_to_its_floor():
    row = {**_row(None), "total_seconds": 31.2, "floor_seconds": 24.0}
    assert _cells(row)[10] == "1.30 (31.2 / 24.0 s)"


def test_the_float64_copy_column_says_when_and_whether_it_was_made():
    from pipeline.anchor_later import DEFERRED

    stored = {"anchor": "stored (2.84 s)", "anchor_seconds": 2.84}
    deferred = {"anchor": DEFERRED, "anchor_seconds": 0.0}
    cells = {
        "in export": stored,
        "later": {**deferred, "anchor_later": True},
        "not needed": {**deferred, "anchor_later": False},
        "none": {"anchor": "no float64 copy: TypeError: ...", "anchor_seconds": 0.0},
    }
    found = {name: _cells({**_row(None), **row})[8] for name, row in cells.items()}
    assert found == {
        "in export": "2.8",
        "later": "later",
        "not needed": "not needed",
        "none": "none",
    }


def test_make_zoo_rewrites_its_tables_and_keeps_the_notes_after_them(tmp_path):
    from pipeline.zoo.table import BEGIN, END, write_doc

    doc = tmp_path / "zoo.md"
    write_doc([_row(None)], (), {}, doc)  # a first run: the tables alone
    first = doc.read_text()
    assert first.startswith(BEGIN) and first.endswith(END)
    doc.write_text(first.replace("| m |", "| edited |") + "\n## Notes\n\nBy hand.\n")
    write_doc([_row(None)], (), {"wall_seconds": 12.5}, doc)
    text = doc.read_text()
    assert "| edited |" not in text and "| m |" in text and "12.5 s wall time" in text
    assert text.endswith(END + "\n## Notes\n\nBy hand.\n")
