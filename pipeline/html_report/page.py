"""The report page's HTML: the verdict, the error chart, the layer table and the Transposes,
from what ``check`` and the stages before it wrote. One file with its style inline: no
script, no network, no other file."""

from __future__ import annotations

from html import escape

from pipeline.artifacts import MODEL_PY, STAGE1, STAGE2
from pipeline.html_report.chart import chart
from pipeline.html_report.layers import LayerRow, rows
from pipeline.problems import weights_found

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:24px auto;max-width:1000px;color:#222}
body{padding:0 16px}
h1{font-size:22px;margin:0 0 8px}h2{font-size:17px;margin:28px 0 8px}
.verdict{padding:12px 16px;border-radius:6px;font-size:18px;font-weight:600}
.pass{background:#e8f5e9;color:#1b5e20}.fail{background:#fdecea;color:#b71c1c}
table{border-collapse:collapse;font-size:13px;width:100%}
th,td{border-bottom:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.first{background:#fdecea;font-weight:600}td.over{color:#b71c1c;font-weight:600}
.chart .tick,.chart .barlabel{font-size:11px;fill:#666}.chart .label{font-size:12px}
.chart .grid{stroke:#eee}.chart .bar{stroke:#c62828;stroke-dasharray:4 3}
.muted{color:#666}code{background:#f3f3f3;padding:0 3px;border-radius:3px}
ul.problems li{color:#b71c1c}
"""


def _verdict(report: dict, model: str) -> str:
    problems = report.get("problems", [])
    judged = report.get("comparisons", [])
    worst = max((c["max_rel"] for c in judged), default=None)
    if not problems:
        said = f"{escape(model)} matches Keras: {len(judged)} comparisons within the bar"
        if worst is not None:
            said += f", worst scaled error {worst:.2e}"
        return f'<p class="verdict pass" id="verdict">PASS: {said}</p>'
    items = "".join(f"<li>{escape(p)}</li>" for p in problems)
    return (
        f'<p class="verdict fail" id="verdict">FAIL: {escape(model)} does not match Keras '
        f'({len(problems)} problem(s))</p><ul class="problems">{items}</ul>'
    )


def _facts(report: dict) -> str:
    torch_facts = report.get("torch") or {}
    lines = [
        f"{a['case']} ({a['samples']} samples): Keras accuracy {a['keras_accuracy']:.2%}, "
        f"torch {a['accuracy']:.2%}, top-1 agreement {a['top1_agreement']:.2%}"
        for a in torch_facts.get("accuracy") or []
    ]
    if torch_facts.get("param_count") is not None:
        lines.append(
            f"{torch_facts['param_count']:,} parameters in torch, "
            f"{torch_facts['keras_param_count']:,} in Keras"
        )
    found = torch_facts.get("weights_as_parameters") or {}
    if found:
        good, judged = weights_found(found)
        lines.append(f"Keras weights held by nn.Parameters: {good} of {judged}")
    error = torch_facts.get("torch_export_error")
    lines.append(f"torch.export: {'fails: ' + error if error else 'ok'}")
    return "<ul>" + "".join(f"<li>{escape(line)}</li>" for line in lines) + "</ul>"


def _layer_table(report: dict, diagnosis: dict | None) -> str:
    torch_facts = report.get("torch") or {}
    held_by = (torch_facts.get("weights_as_parameters") or {}).get("held_by", {})
    table, unclaimed = rows(
        report.get("keras_layers", []),
        report.get("keras_weights", {}),
        held_by,
        torch_facts.get("modules") or [],
        diagnosis,
    )
    modules = {m[0]: m for m in torch_facts.get("modules") or []}
    artifacts = sorted({a for row in table for a in row.errors}, key=_stage_order)
    head = "".join(f"<th>{escape(a)} error</th>" for a in artifacts)
    body = "".join(_layer_row(row, modules, artifacts, diagnosis) for row in table)
    extra = "".join(
        f"<tr><td class='muted'>(no Keras layer)</td><td></td><td></td>"
        f"<td><code>{escape(m[0])}</code></td><td>{escape(m[1])}</td><td class='n'>{m[2]:,}</td>"
        + "<td></td>" * len(artifacts)
        + "</tr>"
        for m in unclaimed
    )
    return (
        "<table><tr><th>Keras layer</th><th>class</th><th>Keras weights</th>"
        f"<th>torch attribute</th><th>torch type</th><th>parameters</th>{head}</tr>"
        f"{body}{extra}</table>"
    )


def _stage_order(artifact: str) -> int:
    order = (STAGE1, STAGE2, MODEL_PY)  # diagnose's columns
    return order.index(artifact) if artifact in order else len(order)


def _layer_row(row: LayerRow, modules: dict, artifacts: list[str], diagnosis) -> str:
    tol = (diagnosis or {}).get("tolerance", 0.0)
    inline = "an argument of forward()" if row.cls == "InputLayer" else "inline in forward()"
    names = "<br>".join(f"<code>{escape(a)}</code>" for a in row.attributes) or (
        f"<span class='muted'>{inline}</span>"
    )
    types = "<br>".join(escape(modules[a][1]) for a in row.attributes if a in modules)
    params = sum(modules[a][2] for a in row.attributes if a in modules)
    cells = ""
    for artifact in artifacts:
        error = row.errors.get(artifact)
        over = error is not None and error > tol
        shown = "-" if error is None else f"{error:.1e}"
        cells += f"<td class='n{' over' if over else ''}'>{shown}</td>"
    mark = " class='first'" if row.first_diverging else ""
    return (
        f"<tr{mark}><td>{escape(row.layer)}</td><td>{escape(row.cls)}</td>"
        f"<td class='n'>{row.keras_params:,}</td><td>{names}</td><td>{types}</td>"
        f"<td class='n'>{params:,}</td>{cells}</tr>"
    )


def _transposes(report: dict, passes: dict | None) -> str:
    ops = report.get("ops", {})
    before = ops.get("stage1.onnx", {}).get("Transpose", 0)
    after = ops.get("stage2.onnx", {}).get("Transpose", 0)
    said = f"<p>stage1.onnx has {before} Transpose(s), stage2.onnx {after}.</p>"
    if not passes:
        return said
    count, moves = before, []
    for record in passes.get("passes", []):
        now = record.get("transposes", count)
        if now != count:
            moves.append(f"<li><code>{escape(record['pass'])}</code>: {count} &rarr; {now}</li>")
        count = now
    said += f"<ul>{''.join(moves)}</ul>" if moves else ""
    if not passes.get("transposes_left"):
        said += "<p>No Transpose is left in stage2.onnx.</p>"
    for left in passes.get("transposes_left", []):
        why = "; ".join(left["why"])
        said += f"<p>Left: <code>{escape(left['node'])}</code> ({escape(left['doc'])}): "
        said += f"{escape(why)}</p>"
    return said


def render(report: dict, model: str, passes: dict | None, diagnosis: dict | None) -> str:
    """The whole page."""
    first = (diagnosis or {}).get("first_diverging_layer")
    diagnosed = (
        f"<p>diagnose: Keras layer <b>{escape(first)}</b> is the first whose output differs "
        "(highlighted below).</p>"
        if first
        else ""
    )
    tol = max((c["tol"] for c in report.get("comparisons", [])), default=1e-5)
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(model)}: keras2torch report</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(model)}: Keras &rarr; PyTorch conversion report</h1>"
        f"{_verdict(report, model)}{diagnosed}"
        f"<h2>Error against Keras, per artifact and case</h2>{chart(report['comparisons'], tol)}"
        f"<p class='muted'>Scaled error: max |artifact - Keras| / max |Keras|. Green: within "
        f"the bar; amber: passed by the float64 rule; red: over.</p>"
        f"<h2>Facts</h2>{_facts(report)}"
        f"<h2>Keras layers and the torch attributes they became</h2>"
        f"{_layer_table(report, diagnosis)}"
        f"<h2>Transposes</h2>{_transposes(report, passes)}"
        f"<p class='muted'>Written by <code>python -m pipeline check</code> from report.json, "
        f"passes.json and, after a failure, diagnose.json.</p></body></html>\n"
    )
