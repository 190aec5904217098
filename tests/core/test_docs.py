"""The Python examples in README.md and docs/*.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _blocks(path: Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", path.read_text(), flags=re.S)


CASES = [(p, i, code) for p in DOCS for i, code in enumerate(_blocks(p))]


@pytest.mark.parametrize("path,index,code", CASES, ids=[f"{p.name}-{i}" for p, i, _ in CASES])
def test_example_runs(path, index, code, tmp_path, monkeypatch, capsys):
    if "import torch" in code or "ednn.torch" in code:
        pytest.importorskip("torch")
    if "ednn.data" in code or "ednn.atoms.calculator" in code or "import ase" in code:
        pytest.importorskip("ase")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, f"{path.name}[{index}]", "exec"), {"__name__": "__doc_example__"})
