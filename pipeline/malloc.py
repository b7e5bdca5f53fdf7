"""glibc malloc settings for the stage processes ``convert`` starts, and for the floor a
conversion is measured against (``pipeline.zoo.floor``), so that the ratio between them is
about our own work.

With glibc's defaults, every buffer over its mmap threshold (32 MB at most) is a fresh
``mmap`` whose pages the kernel faults in and zeroes one by one, and freed memory goes back
to the kernel at once; tf2onnx copies VGG16's 220 MB of constants several times over, so
that most of its time was the kernel's (sys 13 s of 22 s wall). Served from a heap that is
kept and grown in 1 GB steps instead, ``from_keras`` took 11-12 s rather than 17.5 s and
made 1.4 M page faults rather than 5 M, at the same peak memory (``/usr/bin/time``
on ``python -m pipeline.export.floor VGG16``, two runs each, interleaved). A setting the
environment already has is kept."""

from __future__ import annotations

import os

TUNED = {
    "MALLOC_MMAP_THRESHOLD_": str(4 << 30),  # no mmap per buffer: the heap serves them
    "MALLOC_TRIM_THRESHOLD_": str(64 << 30),  # freed memory stays for the next buffer
    "MALLOC_TOP_PAD_": str(1 << 30),  # the heap grows 1 GB at a time
}


def environment() -> dict[str, str]:
    """This process's environment with ``TUNED`` added, for a child process."""
    return {**TUNED, **os.environ}
