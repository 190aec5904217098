"""ednn.atoms.predict on a Dask LocalCluster: the one-process answer, also when a worker is killed mid-run."""

from __future__ import annotations


import pytest

pytest.importorskip("distributed")
pytest.importorskip("h5py")
import ednn  # noqa: E402
import ednn.distributed as ed  # noqa: E402
from ednn.data.porous import porous_sheet  # noqa: E402

# blocks are summed in float64 in another order than one process sums them: ~1e-16 measured
RTOL = 1e-9
WINDOW = 300 * 300  # small windows: 32 blocks of tiles, so a run has many tasks to lose and redo


@pytest.fixture(scope="module")
def sheet():
    return porous_sheet((30, 50), seed=2)


@pytest.fixture(scope="module")
def client():
    with ed.local_client(2) as c:
        yield c


def test_equals_one_process(sheet, client):
    m = ednn.models.path("sheets")
    want = ednn.atoms.predict(m, *sheet, max_window=WINDOW)
    got = ednn.atoms.predict(m, *sheet, max_window=WINDOW, client=client)
    assert got == pytest.approx(want, rel=RTOL)


def test_survives_a_killed_worker(sheet, client, kill_a_worker):
    m = ednn.models.path("sheets")
    want = ednn.atoms.predict(m, *sheet, max_window=WINDOW)
    killed = kill_a_worker(client)  # one worker dies after three results
    got = ednn.atoms.predict(m, *sheet, max_window=WINDOW, client=client)
    assert killed and got == pytest.approx(want, rel=RTOL)
    client.wait_for_workers(2, timeout=60)  # the nanny restarted it


def test_tasks_get_only_their_atoms(sheet, client, monkeypatch):
    sizes: list[int] = []
    submit = client.submit

    def spy(fn, *args, **kw):
        sizes.append(len(args[3][0]))  # the points of this block
        return submit(fn, *args, **kw)

    monkeypatch.setattr(client, "submit", spy, raising=False)
    ednn.atoms.predict(ednn.models.path("sheets"), *sheet, max_window=WINDOW, client=client)
    n = len(sheet[0])
    assert len(sizes) >= 16 and max(sizes) < n / 8  # each task: its block and a thin halo, not the sheet


def test_workers_run_the_network_on_their_own_threads(client):
    # a LocalCluster of single-thread workers: each worker's ONNX Runtime session takes 1 thread, not
    # one per core of the machine (two workers with a thread per core each would share the cores)
    assert client.submit(ed._worker_threads, pure=False).result() == 1
    assert ed._worker_threads() == 1  # outside a worker
    with ed.local_client(1, threads_per_worker=2) as two:
        assert two.submit(ed._worker_threads, pure=False).result() == 2
