"""report.html's parts without a browser: self-contained, escaped, each Keras layer next to
the attribute that really holds its weights, the chart's colours, the Transposes' story
(the browser test, tests/e2e/test_report_page.py, renders the whole page)."""

from __future__ import annotations

import re

from pipeline.html_report import chart, layers, page


def _comparison(artifact="model.py", case="batch1", rel=1e-7, passed=True, tol=1e-5):
    return {"artifact": artifact, "case": case, "output": "y", "max_rel": rel, "max_abs": rel,
            "tol": tol, "passed": passed}  # fmt: skip


def _report(**changes) -> dict:
    report = {
        "passed": True,
        "problems": [],
        "comparisons": [_comparison()],
        "ops": {"stage1.onnx": {"Transpose": 3}, "stage2.onnx": {"Transpose": 1}},
        "keras_layers": [["input", "InputLayer"], ["dense", "Dense"], ["relu", "ReLU"]],
        "keras_weights": {"dense/kernel": 12, "dense/bias": 4},
        "torch": {
            "modules": [["fc", "Linear", 16], ["relu", "ReLU", 0], ["extra", "Identity", 0]],
            "weights_as_parameters": {
                "keras_weights": 2,
                "constant": 0,
                "not_parameters": [],
                "held_by": {"dense/kernel": ["fc.weight"], "dense/bias": ["fc.bias"]},
            },
        },
    }
    return {**report, **changes}


PASSES = {
    "passes": [
        {"pass": "nchw_input", "transposes": 2},
        {"pass": "no_op", "transposes": 2},
        {"pass": "flatten_dense", "transposes": 1},
    ],
    "transposes_left": [{"node": "t0", "doc": "keras_layer: p (Permute)", "why": ["a Permute"]}],
}


def test_the_page_is_self_contained():
    html = page.render(_report(), "m", PASSES, None)
    assert "<script" not in html.lower()
    assert not re.search(r"\s(src|href)=", html)  # no file or address to load
    assert "url(" not in html and "@import" not in html


def test_names_are_escaped():
    html = page.render(_report(keras_layers=[["<b>x</b>", "Dense"]]), "<i>m</i>", None, None)
    assert "<b>x</b>" not in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<i>m</i>" not in html


def test_a_layer_sits_next_to_the_attribute_that_holds_its_weights():
    rows, unclaimed = layers.rows(
        [["dense", "Dense"], ["relu", "ReLU"], ["add", "Add"]],
        {"dense/kernel": 12, "dense/bias": 4},
        {"dense/kernel": ["fc.weight"], "dense/bias": ["fc.bias"]},
        [["fc", "Linear", 16], ["relu", "ReLU", 0], ["extra", "Identity", 0]],
    )
    by_layer = {row.layer: row for row in rows}
    assert by_layer["dense"].attributes == ["fc"] and by_layer["dense"].keras_params == 16
    assert by_layer["relu"].attributes == ["relu"]  # no weights: the attribute named after it
    assert by_layer["add"].attributes == []  # computed inline in forward()
    assert unclaimed == [["extra", "Identity", 0]]


def test_a_weight_split_over_two_attributes_names_both():
    rows, _ = layers.rows(
        [["gru", "GRU"]],
        {"gru/bias": 6},
        {"gru/bias": ["gru_ih.bias", "gru_hh.bias"]},
        [["gru_ih", "Linear", 3], ["gru_hh", "Linear", 3]],
    )
    assert rows[0].attributes == ["gru_ih", "gru_hh"]


def test_the_first_diverging_layer_is_marked_with_its_errors():
    diagnosis = {
        "first_diverging_layer": "dense",
        "tolerance": 1e-5,
        "layers": [{"layer": "dense", "errors": {"stage1.onnx": 1e-7, "model.py": 0.5}}],
    }
    html = page.render(_report(passed=False, problems=["x"]), "m", None, diagnosis)
    assert "<tr class='first'><td>dense</td>" in html
    assert "<td class='n over'>5.0e-01</td>" in html and "<td class='n'>1.0e-07</td>" in html
    assert "FAIL: m does not match Keras (1 problem(s))" in html


def test_the_chart_colours_each_case_by_its_verdict():
    svg = chart.chart(
        [
            _comparison(case="a", rel=0.0),
            _comparison(case="b", rel=3e-5),  # over the bar yet passed: the float64 rule
            _comparison(case="c", rel=0.2, passed=False),
        ],
        1e-5,
    )
    assert svg.count(chart.COLORS["ok"]) == 1 and "0 (exact)" in svg
    assert svg.count(chart.COLORS["rule"]) == 1 and svg.count(chart.COLORS["fail"]) == 1
    assert "worst 2.00e-01" in svg  # the row's worst: the failing one


def test_the_transposes_say_which_pass_removed_them_and_why_one_is_left():
    html = page.render(_report(), "m", PASSES, None)
    assert "stage1.onnx has 3 Transpose(s), stage2.onnx 1." in html
    assert "<code>nchw_input</code>: 3 &rarr; 2" in html
    assert "<code>flatten_dense</code>: 2 &rarr; 1" in html and "no_op" not in html
    assert "Left: <code>t0</code> (keras_layer: p (Permute)): a Permute" in html


def test_outputs_compared_exactly_have_a_chart_without_a_bar():
    """An integer output is compared exactly (tol 0): nothing to take a logarithm of."""
    exact = [_comparison(rel=0.0, tol=0.0), _comparison(case="b", rel=0.0, tol=0.0)]
    svg = chart.chart(exact, 0.0)
    assert 'class="bar"' not in svg and svg.count("scaled error 0 (exact)") == 2
    assert "PASS" in page.render(_report(comparisons=exact), "m", None, None)
