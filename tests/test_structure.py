"""The README's structure rules, checked by reading the source with `ast` (nothing is imported).

- Imports point down the layers (LAYERS, lowest first); inside analysis/, down ANALYSIS_ORDER.
- sentiment_core never imports streamlit, plotly, pandas or dashboard, at any depth in a file.
- No import cycle between modules through module-level imports.
- A project import inside a function says why on its line: `# start-up: <measured reason>`.
- A module has at most MAX_MODULE_LINES lines; a function at most MAX_FUNCTION_LINES.
- The README's module map (the Architecture section) names every module, and only files that exist.

Each failure names the file, the line and the rule, so the fix is plain from the message.
"""
import ast
import io
import re
import tokenize
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("sentiment_core", "dashboard")
# Lowest first; a module may import from its own layer or a lower one. The package's __init__
# (a docstring and a version) sits at the bottom; `python -m sentiment_core` (__main__) with cli.
LAYERS = (
    ("settings", "settings_table", "fileio", "errors", "timeline", "__init__"),
    ("data",),
    ("glossary",),
    ("config",),
    ("models",),
    ("training",),
    ("runs",),
    ("pretrained",),
    ("analysis",),
    ("cli", "__main__"),
)
DASHBOARD_LAYER = len(LAYERS)
# Inside analysis/, lowest first (read from the code: only exploration imports evaluation, for
# the negation and contrast word lists that the slices define).
ANALYSIS_ORDER = ("inference", "evaluation", "exploration", "lessons")
FORBIDDEN_IN_CORE = ("streamlit", "plotly", "pandas", "dashboard")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60
SIZE_CHECKED_FOLDERS = ("sentiment_core", "dashboard", "tests", "scripts")
START_UP_COMMENT = "# start-up:"
MAP_HEADING = "### Module map"


@dataclass(frozen=True)
class Import:
    path: str          # the importing file, relative to the repository root
    line: int
    end_line: int
    target: str        # the dotted module imported (resolved when relative)
    in_function: bool
    type_checking: bool  # under `if TYPE_CHECKING:` (never runs)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def python_files(folder: str) -> tuple[Path, ...]:
    return tuple(sorted((ROOT / folder).rglob("*.py")))


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


@cache
def project_modules() -> frozenset[str]:
    return frozenset(module_name(p) for pkg in PACKAGES for p in python_files(pkg))


def _resolve(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _targets(module: str, is_package: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = _resolve(module, is_package, node)
    # `from pkg import mod` imports the module pkg.mod when there is one, else a name from pkg.
    known = project_modules()
    return list(dict.fromkeys(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imports_in(tree: ast.Module, rel: str, module: str, is_package: bool = False) -> tuple[Import, ...]:
    """Every import statement in a parsed file, at any depth, with where it sits."""
    found: list[Import] = []

    def visit(node: ast.AST, in_function: bool, type_checking: bool) -> None:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for target in _targets(module, is_package, node):
                found.append(Import(rel, node.lineno, node.end_lineno or node.lineno, target,
                                    in_function, type_checking))
        for child in ast.iter_child_nodes(node):
            visit(child, in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)),
                  type_checking or (isinstance(node, ast.If) and _is_type_checking(node.test)
                                    and child in node.body))

    visit(tree, False, False)
    return tuple(found)


@cache
def imports_of(path: Path) -> tuple[Import, ...]:
    return imports_in(parsed(path), str(path.relative_to(ROOT)), module_name(path), path.name == "__init__.py")


def is_project(target: str) -> bool:
    return target.split(".")[0] in PACKAGES


def layer_of(module: str) -> int:
    parts = module.split(".")
    if parts[0] == "dashboard":
        return DASHBOARD_LAYER
    top = parts[1] if len(parts) > 1 else "__init__"
    for index, names in enumerate(LAYERS):
        if top in names:
            return index
    raise AssertionError(f"{module}: not in any layer of tests/test_structure.py LAYERS; add it to the README's "
                         "layer diagram and to LAYERS")


def layer_name(index: int) -> str:
    return "dashboard" if index == DASHBOARD_LAYER else "/".join(n for n in LAYERS[index] if not n.startswith("__"))


def all_project_files() -> list[Path]:
    return [p for pkg in PACKAGES for p in python_files(pkg)]


def test_imports_point_down_the_layers():
    problems = []
    for path in all_project_files():
        here = layer_of(module_name(path))
        for imp in imports_of(path):
            if is_project(imp.target) and layer_of(imp.target) > here:
                there = layer_name(layer_of(imp.target))
                problems.append(f"{imp.path}:{imp.line}: imports {imp.target} (layer {there}) from layer "
                                f"{layer_name(here)}; rule: imports point down the layers")
    assert not problems, "\n".join(problems)


def _analysis_part(module: str) -> str | None:
    parts = module.split(".")
    if parts[:2] == ["sentiment_core", "analysis"] and len(parts) > 2 and parts[2] in ANALYSIS_ORDER:
        return parts[2]
    return None


def test_analysis_subpackages_import_down_only():
    problems = []
    for path in python_files("sentiment_core/analysis"):
        here = _analysis_part(module_name(path))
        for imp in imports_of(path):
            there = _analysis_part(imp.target)
            if here and there and ANALYSIS_ORDER.index(there) > ANALYSIS_ORDER.index(here):
                problems.append(f"{imp.path}:{imp.line}: analysis/{here} imports {imp.target}; rule: inside "
                                f"analysis/ imports point down {' < '.join(ANALYSIS_ORDER)}")
    assert not problems, "\n".join(problems)


def test_every_analysis_subpackage_is_ordered():
    found = {p.name for p in (ROOT / "sentiment_core/analysis").iterdir() if (p / "__init__.py").exists()}
    assert found <= set(ANALYSIS_ORDER), (
        f"sentiment_core/analysis: {sorted(found - set(ANALYSIS_ORDER))} not in ANALYSIS_ORDER of "
        "tests/test_structure.py; rule: every subpackage of analysis/ has a place in the order")


def test_core_never_imports_the_page_libraries():
    problems = []
    for path in python_files("sentiment_core"):
        for imp in imports_of(path):
            if imp.target.split(".")[0] in FORBIDDEN_IN_CORE:
                problems.append(f"{imp.path}:{imp.line}: imports {imp.target}; rule: sentiment_core never imports "
                                f"{', '.join(FORBIDDEN_IN_CORE)}")
    assert not problems, "\n".join(problems)


def _module_level_graph() -> dict[str, dict[str, Import]]:
    graph: dict[str, dict[str, Import]] = {}
    known = project_modules()
    for path in all_project_files():
        edges = graph.setdefault(module_name(path), {})
        for imp in imports_of(path):
            if imp.in_function or imp.type_checking or imp.target not in known:
                continue
            edges.setdefault(imp.target, imp)
    return graph


def _find_cycle(graph: dict[str, dict[str, Import]]) -> list[str] | None:
    state: dict[str, str] = {}  # "open" while on the DFS stack, "done" after
    stack: list[str] = []

    def dfs(node: str) -> list[str] | None:
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (cycle := dfs(nxt)):
                return cycle
        stack.pop()
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := dfs(start)):
            return cycle
    return None


def test_no_import_cycles_at_module_level():
    graph = _module_level_graph()
    cycle = _find_cycle(graph)
    if cycle:
        steps = [f"{graph[a][b].path}:{graph[a][b].line}: {a} imports {b}" for a, b in zip(cycle, cycle[1:])]
        raise AssertionError("rule: no import cycles at module level; this one:\n" + "\n".join(steps))


def _comments(source: str) -> dict[int, str]:
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0]: tok.string for tok in tokens if tok.type == tokenize.COMMENT}


def late_imports_without_reason(imports: tuple[Import, ...], source: str) -> list[Import]:
    """Project imports inside a function with no `# start-up:` comment on any line of the statement."""
    late = [imp for imp in imports if imp.in_function and is_project(imp.target)]
    comments = _comments(source) if late else {}
    return [imp for imp in late
            if not any(comments.get(n, "").startswith(START_UP_COMMENT) for n in range(imp.line, imp.end_line + 1))]


def test_imports_inside_functions_say_why():
    problems = [f"{imp.path}:{imp.line}: imports {imp.target} inside a function without a '{START_UP_COMMENT} "
                "<measured reason>' comment on that line; rule: import at the top unless a measured start-up "
                "reason says otherwise"
                for path in all_project_files()
                for imp in late_imports_without_reason(imports_of(path), path.read_text(encoding="utf-8"))]
    assert not problems, f"{len(problems)} imports:\n" + "\n".join(problems)


def test_modules_are_short():
    problems = []
    for folder in SIZE_CHECKED_FOLDERS:
        for path in python_files(folder):
            lines = len(path.read_text(encoding="utf-8").splitlines())
            if lines > MAX_MODULE_LINES:
                problems.append(f"{path.relative_to(ROOT)}:{lines}: {lines} lines; rule: a module has at most "
                                f"{MAX_MODULE_LINES} lines")
    assert not problems, "\n".join(problems)


def test_functions_are_short():
    problems = []
    for path in all_project_files():
        for node in ast.walk(parsed(path)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                # From the `def` line (decorators not counted) to the body's last line.
                lines = node.body[-1].end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    problems.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.name}() is {lines} lines; "
                                    f"rule: a function has at most {MAX_FUNCTION_LINES} lines")
    assert not problems, "\n".join(problems)


def _architecture_section() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Architecture\n(.*?)(?=^## )", text, re.S | re.M)
    assert match, "README.md: no '## Architecture' section; rule: the README keeps a module map"
    return match.group(1)


def readme_module_map() -> dict[str, int]:
    """The paths the map names, each with its README line. The map follows '### Module map' in the
    Architecture section: a root line (`sentiment_core/`, `dashboard/`), then indented lines, each
    starting with a path below that root; blank lines may separate groups."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = _architecture_section()
    assert MAP_HEADING in section, (f"README.md: no '{MAP_HEADING}' in '## Architecture'; rule: the README "
                                    "keeps a module map")
    map_text = section[section.index(MAP_HEADING):]
    first_line = text[: text.index(map_text)].count("\n") + 1
    named: dict[str, int] = {}
    root = None
    for offset, line in enumerate(map_text.splitlines()):
        if m := re.fullmatch(r"(sentiment_core|dashboard)/(\s.*)?", line.rstrip()):
            root = m.group(1)
        elif root and (m := re.match(r"\s+(\S+\.py)\b", line)):
            named[f"{root}/{m.group(1)}"] = first_line + offset
        elif line.strip() and not line[0].isspace():
            root = None
    return named


def _needs_a_line(path: Path) -> bool:
    """Every module, except a package __init__.py that holds nothing (or only its docstring)."""
    if path.name != "__init__.py":
        return True
    body = parsed(path).body
    return bool(body) and not (len(body) == 1 and isinstance(body[0], ast.Expr)
                               and isinstance(body[0].value, ast.Constant))


def test_readme_module_map_names_every_module():
    named = readme_module_map()
    missing = [str(p.relative_to(ROOT)) for p in all_project_files()
               if _needs_a_line(p) and str(p.relative_to(ROOT)) not in named]
    assert not missing, "\n".join(f"{m}:1: not in the README's module map (## Architecture); rule: every module "
                                  "has a line there" for m in missing)


def test_readme_module_map_names_only_files_that_exist():
    gone = [f"README.md:{line}: names {path}, which does not exist; rule: the module map names only real files"
            for path, line in readme_module_map().items() if not (ROOT / path).exists()]
    assert not gone, "\n".join(gone)


# The checker itself, on made-up code: each rule must see what it is meant to catch.

SAMPLE = """\
from __future__ import annotations
from typing import TYPE_CHECKING
from . import store
from ..data import text
if TYPE_CHECKING:
    from sentiment_core.cli import train


def late():
    import streamlit
    from sentiment_core.models import classifier  # start-up: torch only when a model is built
    from sentiment_core.analysis.lessons import basics
"""


def test_the_checker_resolves_and_places_imports():
    found = imports_in(ast.parse(SAMPLE), "sentiment_core/runs/jobs.py", "sentiment_core.runs.jobs")
    where = {imp.target: (imp.in_function, imp.type_checking) for imp in found}
    assert where["sentiment_core.runs.store"] == (False, False)
    assert where["sentiment_core.data.text"] == (False, False)
    assert where["sentiment_core.cli.train"] == (False, True)
    assert where["streamlit"] == (True, False)
    assert layer_of("sentiment_core.analysis.lessons.basics") > layer_of("sentiment_core.runs.jobs")
    unexplained = late_imports_without_reason(found, SAMPLE)
    assert [imp.target for imp in unexplained] == ["sentiment_core.analysis.lessons.basics"]


def test_the_checker_finds_a_cycle():
    edge = Import("x.py", 1, 1, "", False, False)
    assert _find_cycle({"a": {"b": edge}, "b": {"c": edge}, "c": {"a": edge}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b": edge}, "b": {"c": edge}, "c": {}}) is None
