"""The README stays a front page (at most MAX_README_LINES), every command block in it is
marked for the doc test, and every relative link of the README and docs/ resolves, anchor
included (tests/readme.py says how blocks are marked; tests/e2e/test_readme.py runs them)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.readme import COMMANDS, README, ROOT, blocks, slug

MAX_README_LINES = 250  # issue 25: a newcomer reads it in five minutes
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
_LINK = re.compile(r"\]\((?!https?://)(?P<path>[^)#\s]*)(?:#(?P<anchor>[^)\s]+))?\)")


def test_the_readme_is_short():
    assert len(README.read_text(encoding="utf-8").splitlines()) <= MAX_README_LINES


def test_every_command_block_is_marked():
    unmarked = [str(b) for b in blocks() if b.lang in COMMANDS and b.marker is None]
    assert unmarked == []
    kinds = {b.marker.split(" ")[0] for b in blocks() if b.marker}
    assert kinds <= {"run", "covered", "excerpt"}, kinds


def test_covered_blocks_name_a_test_that_exists():
    for block in blocks():
        if block.marker and block.marker.startswith("covered by "):
            path, _, name = block.marker.removeprefix("covered by ").partition("::")
            source = (ROOT / path).read_text(encoding="utf-8")
            assert not name or f"def {name}(" in source, block


def test_the_parser_sees_markers_and_languages():
    text = "x\n<!-- doc-test: run -->\n```sh\necho hi\n```\n\n```text\nout\n```\n"
    first, second = blocks(text)
    assert (first.line, first.lang, first.body, first.marker) == (3, "sh", "echo hi", "run")
    assert (second.lang, second.marker) == ("text", None)


def _anchors(page: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    return {slug(m[1]) for m in re.finditer(r"^#{1,6} (.+)$", text, flags=re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page):
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    for match in _LINK.finditer(text):
        target = (page.parent / match["path"]).resolve() if match["path"] else page
        assert target.exists(), f"{page.name}: {match[0]}"
        if match["anchor"] and target.suffix == ".md":
            assert match["anchor"] in _anchors(target), f"{page.name}: {match[0]}"


def test_anchors_are_githubs():
    assert slug("When a check fails: `python -m pipeline diagnose OUT`") == (
        "when-a-check-fails-python--m-pipeline-diagnose-out"
    )
    assert slug("Limits (true today)") == "limits-true-today"
