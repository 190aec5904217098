from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="session")
def ising_model_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The exact f = c = 1 Ising EDNN, built as an ONNX graph in the test session."""
    pytest.importorskip("onnx")
    from ednn.models.exact import write_ising_model

    path = tmp_path_factory.mktemp("models") / "ising_exact.onnx"
    write_ising_model(path)
    return path


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(12345)


def random_spins(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=shape)
