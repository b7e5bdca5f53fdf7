"""Benchmark runners in the torch process (import torch, never TensorFlow)."""
