"""What this installation of ednn was built with and can see."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import _ednn

__all__ = ["build_info", "cmake_dir"]


def build_info() -> dict[str, Any]:
    """Version, OpenMP threads, whether CUDA kernels were compiled, visible GPUs, ONNX Runtime providers.

    Never fails on a machine without a GPU or driver: ``cuda_devices`` is then 0.
    """
    info = dict(_ednn.build_info())
    try:
        import onnxruntime as ort

        info["onnxruntime"] = ort.__version__
        info["onnxruntime_providers"] = list(ort.get_available_providers())
    except ImportError:  # pragma: no cover - onnxruntime is a dependency
        info["onnxruntime"] = None
        info["onnxruntime_providers"] = []
    return info


def cmake_dir() -> Path:
    """Folder holding ``ednnConfig.cmake`` of the installed package (for ``find_package(ednn)``)."""
    root = Path(__file__).resolve().parent
    for cand in sorted(root.glob("lib*/cmake/ednn")):
        return cand
    raise FileNotFoundError("ednnConfig.cmake is not installed beside the ednn package")
