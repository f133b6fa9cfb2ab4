"""The package's layering, read from the source (no imports run): no module uses another
package's private names, and imports point the way DESIGN.md draws them (cli/server ->
engine -> runtime; ingest/rag -> engine + stores; nothing below imports cli or server; no
ingest -> rag edge; server -> rag only for /v1/ask generation)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

import lembed

ROOT = Path(lembed.__file__).parent

# Packages (first component under lembed/) that may never import the ones listed.
FORBIDDEN: dict[str, set[str]] = {
    "runtime": {"engine", "cli", "server", "ingest", "rag", "evaluate", "scale", "stores"},
    "models": {"runtime", "engine", "cli", "server", "ingest", "rag", "evaluate", "scale"},
    "stores": {"runtime", "engine", "cli", "server", "ingest", "rag", "evaluate", "scale"},
    "engine": {"cli", "server", "ingest", "rag", "evaluate", "scale", "stores"},
    "ingest": {"runtime", "cli", "server", "rag", "evaluate"},
    "rag": {"runtime", "cli", "server", "ingest", "evaluate", "scale"},
    "scale": {"runtime", "cli", "server", "rag", "evaluate"},
    "evaluate": {"cli", "server"},
    "server": {"cli", "scale"},
    "errors": {"runtime", "engine", "cli", "server", "ingest", "rag", "evaluate", "scale"},
    "settings": {"engine", "cli", "server", "ingest", "rag", "evaluate", "scale", "stores"},
}
# Edges across FORBIDDEN that are data types only, with the reason.
ALLOWED: dict[tuple[str, str], str] = {
    # the sparse vector a Qdrant collection stores is the runtime's output type (a dataclass)
    ("lembed.stores.qdrant", "lembed.runtime.outputs"): "SparseVector is data",
}
# The one server -> rag edge the design allows: /v1/ask (the RAG pipeline, its retriever and
# generators); lexical search is stores.lexical and the reranking runtime is
# engine.cross_encoder, which the server reaches without rag.
SERVER_MAY_USE_RAG = {"lembed.rag.pipeline", "lembed.rag.generators", "lembed.rag.prompt"}


@dataclass(frozen=True)
class Edge:
    source: str  # module that imports, e.g. lembed.ingest.api
    target: str  # module (or module.name) imported, e.g. lembed.stores.lexical
    names: tuple[str, ...]  # names taken from it (from-imports) or used as attributes
    line: int


def _module_name(path: Path) -> str:
    parts = ["lembed", *path.relative_to(ROOT).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _resolve(source: str, is_pkg: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    base = source.split(".") if is_pkg else source.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None for anything but names and attributes."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        inner = _dotted(node.value)
        return None if inner is None else [*inner, node.attr]
    return None


def _edges_of(text: str, path: Path) -> list[Edge]:
    """Every lembed module (or name in one) that the module at ``path`` imports or uses."""
    source = _module_name(path)
    is_pkg = path.name == "__init__.py"
    tree = ast.parse(text, str(path))
    edges: list[Edge] = []
    aliases: dict[str, str] = {}  # local name -> what in lembed it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "lembed":
                    edges.append(Edge(source, alias.name, (), node.lineno))
                    local = alias.asname or alias.name.split(".")[0]
                    aliases[local] = alias.name if alias.asname else "lembed"
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(source, is_pkg, node)
            if target.split(".")[0] != "lembed":
                continue
            edges.append(Edge(source, target, tuple(a.name for a in node.names), node.lineno))
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{target}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            chain = _dotted(node.value)
            if chain is not None and chain[0] in aliases:
                bound = ".".join([aliases[chain[0]], *chain[1:]])
                edges.append(Edge(source, bound, (node.attr,), node.lineno))
    return edges


def _edges(path: Path) -> list[Edge]:
    return _edges_of(path.read_text(encoding="utf-8"), path)


def _all_edges() -> list[Edge]:
    return [e for path in sorted(ROOT.rglob("*.py")) for e in _edges(path)]


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def test_no_module_uses_another_packages_private_names() -> None:
    found = [
        f"{e.source}:{e.line} uses {e.target}.{name}"
        for e in _all_edges()
        for name in (*e.names, *e.target.split(".")[1:])
        if _private(name) and _package(e.source) != _package(e.target)
    ]
    assert not found, "\n".join(found)


def test_imports_point_down_the_layers() -> None:
    found = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in _all_edges()
        if _package(e.target) in FORBIDDEN.get(_package(e.source), set())
        and (e.source, e.target) not in ALLOWED
        and not any(e.target.startswith(t + ".") for s, t in ALLOWED if s == e.source)
    ]
    assert not found, "\n".join(found)


def test_server_uses_rag_only_for_ask_generation() -> None:
    found = [
        f"{e.source}:{e.line} imports {e.target}"
        for e in _all_edges()
        if _package(e.source) == "server"
        and _package(e.target) == "rag"
        and not any(e.target == m or e.target.startswith(m + ".") for m in SERVER_MAY_USE_RAG)
    ]
    assert not found, "\n".join(found)


def test_the_audit_sees_private_names_and_wrong_edges() -> None:
    """The reader finds what the tests above look for, so they can fail."""
    text = (
        "import lembed.server.app\n"
        "from lembed.rag.retriever import _hidden\n"
        "from ..runtime import tokenizer as tok\n"
        "tok._pad\n"
        "lembed.stores.memory._rows\n"
    )
    edges = _edges_of(text, ROOT / "ingest" / "probe.py")
    found = {(e.target, e.names) for e in edges}
    assert ("lembed.server.app", ()) in found
    assert ("lembed.rag.retriever", ("_hidden",)) in found
    assert ("lembed.runtime.tokenizer", ("_pad",)) in found
    assert ("lembed.stores.memory", ("_rows",)) in found
    assert all(_package(e.source) == "ingest" for e in edges)
