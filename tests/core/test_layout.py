"""The package's layout: an acyclic import graph of few levels, modules of a readable size, and
commands that are imported explicitly and name a missing extra in one line."""

from __future__ import annotations

import ast
import functools
import subprocess
import sys
from pathlib import Path

import pytest

from ednn.cli import build_parser

PACKAGE = Path(__file__).resolve().parents[2] / "python" / "ednn"
#: The longest chain of imports (lazy ones inside functions included) may not grow past this.
MAX_LEVELS = 11
#: Modules longer than this say why in their docstring ("One module on purpose").
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for p in PACKAGE.rglob("*.py"):
        parts = p.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    edges: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = pkg
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = (base + "." + node.module if node.module else base) if node.level else (node.module or "")
                if base.endswith("._ednn"):
                    continue
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in mods else base
                           for a in node.names if a.name != "_ednn"]
            for t in targets:
                while t not in mods and "." in t:
                    t = t.rpartition(".")[0]
                if t in mods and t != name:
                    edges[name].add(t)
    return edges


def test_import_graph_is_acyclic_and_shallow():
    edges = _graph()
    assert {"ednn.atoms.recipe", "ednn.inference", "ednn.cli.core", "ednn.train.loop"} <= set(edges)

    @functools.lru_cache(maxsize=None)
    def depth(m: str, stack: tuple[str, ...] = ()) -> int:
        assert m not in stack, "import cycle: " + " -> ".join(stack[stack.index(m):] + (m,))
        return 1 + max((depth(v, stack + (m,)) for v in edges[m]), default=0)

    levels = max(depth(m) for m in edges)
    assert levels <= MAX_LEVELS


def test_long_modules_say_why():
    for name, path in _modules().items():
        text = path.read_text()
        if len(text.splitlines()) > MAX_LINES:
            doc = ast.get_docstring(ast.parse(text)) or ""
            assert "One module on purpose" in doc, f"{name}: {len(text.splitlines())} lines without a stated reason"


def test_every_command_is_registered():
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == {"info", "predict", "models", "build-info", "data", "train", "export", "evaluate", "atoms", "demo"}
    for name, parser in sub.choices.items():
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help, f"ednn {name} {action.option_strings[0]} has no help text"


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("blocked,argv,extra", [
    ("torch", ["demo", "ising", "--out", "never-written"], "train"),
    ("yaml", ["train", "missing.yaml"], "train"),
    ("h5py", ["atoms", "info", "missing.h5"], "atoms"),
])
def test_missing_extra_is_one_line(blocked, argv, extra):
    out = _run(f"import sys; sys.modules[{blocked!r}] = None\n"
               f"from ednn.cli import main; raise SystemExit(main({argv!r}))")
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and blocked in lines[0] and f"pip install 'ednn[{extra}]'" in lines[0], out.stderr
    assert not Path("never-written").exists()


def test_import_without_ase_names_the_extra():
    out = _run("import sys; sys.modules['ase'] = None\nimport ednn\n"
               "try:\n    import ednn.atoms.calculator\nexcept ednn.MissingExtraError as e:\n    print(e)")
    assert out.returncode == 0, out.stderr
    assert "ednn.atoms.calculator needs ase" in out.stdout and "pip install 'ednn[atoms]'" in out.stdout
