"""``report.html`` in a real headless Chromium (``tests/browser.py``): it renders, logs no
console error and shows the verdict, for a conversion that passes and for one whose check
fails (the first diverging Keras layer highlighted). ``REPORT_SCREENSHOT=PATH`` keeps the
passing page's screenshot (``make report-screenshot`` writes docs/report-lenet4.png so)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline import artifacts
from tests import browser

ROOT = Path(__file__).resolve().parents[2]
# Chromium is installed by .ci/run; elsewhere the tests say how to get it
needs_browser = pytest.mark.skipif(
    browser.find() is None and not os.environ.get("CI"),
    reason="no Chromium here: `apt-get install chromium` (.ci/run installs it)",
)
ASK = {
    "verdict": "document.getElementById('verdict').textContent",
    "first": "(document.querySelector('tr.first td') || {}).textContent || null",
    "rows": "document.querySelectorAll('table tr').length",
    "width": "document.documentElement.scrollWidth",
}


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


@needs_browser
def test_the_report_page_renders_with_its_verdict(converted):
    out, *_ = converted
    page = browser.open_page(out / artifacts.REPORT_HTML, ASK)
    assert page.problems == []
    assert page.values["verdict"].startswith("PASS: lenet4 matches Keras: 21 comparisons")
    assert page.values["first"] is None  # no layer is marked when nothing differs
    # a row per Keras layer (9) and the header: the layer table is there
    assert page.values["rows"] == 10
    width, height = _png_size(page.screenshot)
    assert width >= 1000 and height > 900  # the whole page, not the first screen
    if os.environ.get("REPORT_SCREENSHOT"):
        Path(os.environ["REPORT_SCREENSHOT"]).write_bytes(page.screenshot)


@needs_browser
def test_a_failed_check_page_shows_fail_and_the_first_diverging_layer(converted, tmp_path):
    out, *_ = converted
    copy = tmp_path / "negated"
    shutil.copytree(out, copy)
    negate = (  # in its own process: this one never imports torch
        "import sys, torch; w = torch.load(sys.argv[1]); "
        "w['block2_conv1.weight'] = -w['block2_conv1.weight']; torch.save(w, sys.argv[1])"
    )
    subprocess.run([sys.executable, "-c", negate, str(copy / artifacts.WEIGHTS)], check=True)
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "check", str(copy)], cwd=ROOT, capture_output=True
    )
    assert proc.returncode == 4
    page = browser.open_page(copy / artifacts.REPORT_HTML, ASK)
    assert page.problems == []
    assert page.values["verdict"].startswith("FAIL: lenet4 does not match Keras")
    assert page.values["first"] == "block2_conv1"


@needs_browser
def test_the_browser_sees_console_errors_and_failed_loads(tmp_path):
    """The check above would pass a page it cannot see into: this one it must flag."""
    bad = tmp_path / "bad.html"
    bad.write_text(
        "<!doctype html><p id='verdict'>x</p><img src='missing.png'>"
        "<script>console.error('boom')</script>"
    )
    page = browser.open_page(bad, {"verdict": ASK["verdict"]})
    assert page.values["verdict"] == "x"
    assert any("boom" in p for p in page.problems)
    assert any("missing.png" in p or "ERR_FILE_NOT_FOUND" in p for p in page.problems)
