"""What this installation of ednn was built with and can see."""

from __future__ import annotations

from typing import Any

from . import _ednn

__all__ = ["build_info"]


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
