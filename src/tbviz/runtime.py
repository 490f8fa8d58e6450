"""Device choice, seeding and version checks (lesson 00)."""

from __future__ import annotations

import importlib
import os
import random
import sys

import numpy as np
import torch


def device(prefer: str | None = None) -> torch.device:
    """CUDA if available, then Apple's MPS, then the CPU.

    ``prefer`` (or the ``TBVIZ_DEVICE`` environment variable) names one explicitly.
    """
    choice = prefer or os.environ.get("TBVIZ_DEVICE")
    if choice:
        dev = torch.device(choice)
        if dev.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"device={choice!r}: torch sees no CUDA GPU here; use 'cpu'")
        if dev.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError(f"device={choice!r} asked for MPS, but it is not available; use 'cpu'")
        return dev
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed(value: int = 0) -> None:
    """Seed Python, NumPy and torch (their global generators) with ``value``."""
    random.seed(value)
    np.random.seed(value)
    torch.manual_seed(value)


def in_colab() -> bool:
    """True inside Google Colab."""
    return "google.colab" in sys.modules


def versions() -> dict[str, str]:
    """Versions of the libraries the course depends on ('missing' when not installed)."""
    out = {"python": sys.version.split()[0]}
    for name in ("torch", "torchvision", "tensorboard", "matplotlib", "numpy", "tbviz"):
        try:
            out[name] = importlib.import_module(name).__version__
        except ImportError:
            out[name] = "missing"
    return out
