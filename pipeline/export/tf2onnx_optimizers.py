"""tf2onnx's graph optimizers as stage 1 runs them: the graph copied once, not before every
optimizer, constants' protos left alone, and a skipped optimizer's traceback kept out of the
log."""

from __future__ import annotations

import copy
import logging
from collections.abc import Iterator
from contextlib import contextmanager

import tf2onnx

log = logging.getLogger(__name__)


class _WithoutTraceback(logging.Filter):
    """tf2onnx logs a skipped optimizer's traceback ("Failed to apply ..."): its exception's
    message alone reaches the user (no traceback ever does; the warning above says why)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            record.msg = f"{record.getMessage()} ({type(exc).__name__}: {exc})"
            record.args, record.exc_info, record.exc_text = (), None, None
        return True


@contextmanager
def copy_once() -> Iterator[None]:
    """tf2onnx's graph optimizers, copying the graph once rather than before each run.

    With tf2onnx's default ``catch_errors``, each of its ~24 optimizer runs first deep-copies
    the whole graph, weights included, so that a failing optimizer is skipped: 10 of
    ResNet50's 34 s of export. Here they run without, on a graph copied once; only if one
    raises (fuzz seed 1078: ``max() arg is an empty sequence``) do they run again from that
    copy the way tf2onnx runs them by default, skipping the failing ones, with a warning.
    Stage 1's check against Keras holds the result either way."""
    original = tf2onnx.optimizer.optimize_graph

    def optimize_graph(graph, catch_errors=True, optimizers=None):
        backup = copy.deepcopy(graph)
        try:
            return original(graph, catch_errors=False, optimizers=optimizers)
        except Exception as exc:  # any optimizer's; tf2onnx itself would skip it
            log.warning(
                "a tf2onnx graph optimizer failed (%s: %s); optimizing again as tf2onnx does "
                "by default, skipping the optimizers that fail",
                type(exc).__name__,
                exc,
            )
            quiet = _WithoutTraceback()
            logging.getLogger("tf2onnx.optimizer").addFilter(quiet)
            try:
                return original(backup, catch_errors=True, optimizers=optimizers)
            finally:
                logging.getLogger("tf2onnx.optimizer").removeFilter(quiet)

    tf2onnx.optimizer.optimize_graph = optimize_graph
    try:
        with const_protos_left_alone():
            yield
    finally:
        tf2onnx.optimizer.optimize_graph = original


@contextmanager
def const_protos_left_alone() -> Iterator[None]:
    """tf2onnx's ``Node.update_proto`` without copying a constant's tensor into its NodeProto.

    After each of its ~24 optimizer runs, tf2onnx re-writes every node's NodeProto from the
    node's attributes; for a ``Const`` that copies its tensor, so the whole model's weights
    are copied about 24 times (``RepeatedCompositeContainer.extend``: 6.0 s of ResNet50's
    export under cProfile; skipping it took the export from 23.5 to 14.6 s and VGG16's from
    49.9 to 27.7 s, and their peak memory from 5.7 to 3.1 GB and 9.6 to 5.6 GB). A Const's
    NodeProto is never read: ``Graph.make_graph`` writes each constant as an initializer
    from the node's attributes (``get_value_attr``), and only non-constant nodes' NodeProtos
    enter the graph. So a Const's update is skipped; every other node's runs as before."""
    node_class = tf2onnx.graph.Node
    original = node_class.update_proto

    def update_proto(node, external_tensor_storage=None):
        if not node.is_const():
            original(node, external_tensor_storage)

    node_class.update_proto = update_proto
    try:
        yield
    finally:
        node_class.update_proto = original
