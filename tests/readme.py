"""The README's fenced blocks and what its doc-test markers say of each, for the doc tests
(``tests/onnx/test_docs.py``: every command block is marked, the links resolve;
``tests/e2e/test_readme.py``: the marked blocks run and the excerpts are true).

A marker is an HTML comment on the line before a fence:

- ``<!-- doc-test: run -->``: the test runs the block (``sh`` with bash, ``python`` with
  the project's Python) in a scratch directory that holds ``build/lenet4`` (LeNet4
  converted) and ``my_model.keras`` (a small Keras model), and it must succeed;
- ``<!-- doc-test: covered by tests/...py::test_name -->``: too slow to run twice; that
  test (which must exist) runs it;
- ``<!-- doc-test: excerpt of PATH -->``: every line of the block is a line of ``PATH`` in
  that scratch directory (a file the conversion wrote).

Blocks of other languages (``text``, ``json``) are outputs, not commands.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
COMMANDS = ("sh", "bash", "python")
_FENCE = re.compile(
    r"(?:<!-- doc-test: (?P<marker>.+?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)\n```", re.S
)


@dataclass(frozen=True)
class Block:
    line: int  # where its fence opens in the README, 1-based
    lang: str
    body: str
    marker: str | None  # "run", "covered by ...", "excerpt of ..." or None

    def __str__(self) -> str:
        return f"README.md:{self.line} ({self.lang}, {self.marker or 'no marker'})"


def blocks(text: str | None = None) -> list[Block]:
    text = README.read_text(encoding="utf-8") if text is None else text
    found = []
    for match in _FENCE.finditer(text):
        start = match.start("lang") - 3
        found.append(
            Block(text.count("\n", 0, start) + 1, match["lang"], match["body"], match["marker"])
        )
    return found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")
