"""Benchmark runner in the TensorFlow process (imports TensorFlow, never torch)."""
