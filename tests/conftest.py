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


@pytest.fixture
def kill_a_worker(monkeypatch: pytest.MonkeyPatch):
    """``kill_a_worker(client)`` -> list: SIGKILLs one Dask worker's process when the client has had
    three results (while most tasks are still to run); the list then holds its pid."""
    import os
    import signal

    def arm(client) -> list[int]:
        import ednn.distributed as ed

        pids = list(client.run(os.getpid).values())
        killed: list[int] = []

        def kill_one(done: int) -> None:
            if done == 3 and not killed:
                os.kill(pids[0], signal.SIGKILL)
                killed.append(pids[0])

        monkeypatch.setattr(ed, "_after_result", kill_one)
        return killed

    return arm
