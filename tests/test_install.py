"""The installed package imports whole, with what it declares: a fresh install once
failed ``import trafilatura`` (jusText needs ``lxml.html.clean``, a package of its own
since lxml 5.2), and every teaser poll crashed."""

from __future__ import annotations

import ast
import importlib.metadata
import json
import re
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from packaging.requirements import Requirement

import newsbote

PACKAGE = Path(newsbote.__file__).parent
NOT_IMPORTABLE = {"newsbote.__main__"}  # runs the command line when imported

# In a fresh interpreter: nothing the test run imported before can hide a missing module.
IMPORT_ALL = """
import importlib, json, pkgutil, sys
import newsbote
names = [m.name for m in pkgutil.walk_packages(newsbote.__path__, "newsbote.")]
skip = set(sys.argv[1:])
for name in names:
    if name not in skip:
        importlib.import_module(name)
print(json.dumps(names))
"""


def test_every_module_of_the_installed_package_imports() -> None:
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_ALL, *NOT_IMPORTABLE],
        capture_output=True,
        text=True,
        timeout=300,  # a guard against hanging only
        check=False,
    )
    assert done.returncode == 0, done.stderr
    names = set(json.loads(done.stdout))
    on_disk = {
        "newsbote."
        + ".".join(p.relative_to(PACKAGE).with_suffix("").parts).removesuffix(".__init__")
        for p in PACKAGE.rglob("*.py")
        if "migrations" not in p.parts  # Alembic's scripts, run by Alembic only
    }
    assert on_disk - {"newsbote.__init__"} <= names | {"newsbote"}  # none left unwalked
    assert {"newsbote.enrich.fulltext", "newsbote.deliver.matrix", "newsbote.serve"} <= names


def test_trafilatura_extracts_a_page_with_what_it_imports_at_run_time() -> None:
    """trafilatura imports jusText (and it lxml.html.clean) lazily or on import, by
    version: extracting a page runs every path a teaser poll takes."""
    import lxml.html.clean  # noqa: F401  # from lxml_html_clean since lxml 5.2
    import trafilatura

    page = (Path(__file__).parent / "fixtures" / "pages" / "article.html").read_text()
    text = trafilatura.extract(page, url="https://zeitung.example/artikel")
    assert text is not None and "Nach drei Jahren Bauzeit" in text
    assert "Impressum" not in text
    from trafilatura.external import justext_rescue  # the fallback on thin pages

    assert callable(justext_rescue)


def _imported_distributions() -> dict[str, set[str]]:
    """Each third-party distribution the package's code imports, with the modules."""
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                found.add(node.module.split(".")[0])
    third_party = found - set(sys.stdlib_module_names) - {"newsbote", "__future__"}
    providers = importlib.metadata.packages_distributions()
    by_distribution: dict[str, set[str]] = {}
    for module in third_party:
        assert module in providers, f"{module} is imported but installed by no distribution"
        for distribution in providers[module]:
            by_distribution.setdefault(_normal(distribution), set()).add(module)
    return by_distribution


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _requirements(distribution: str, extras: Iterable[str] = ()) -> list[Requirement]:
    """What ``distribution`` with ``extras`` requires here (markers evaluated)."""
    found = []
    for line in importlib.metadata.requires(distribution) or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in ("", *extras)):
            found.append(requirement)
    return found


def test_every_imported_distribution_is_installed_through_a_declared_one() -> None:
    """Each distribution the code imports is declared or required, with its extras, by
    a declared one; lxml's cleaner among them."""
    pending = _requirements("newsbote")
    seen: set[tuple[str, frozenset[str]]] = set()
    while pending:
        requirement = pending.pop()
        key = (_normal(requirement.name), frozenset(requirement.extras))
        if key not in seen:
            seen.add(key)
            pending.extend(_requirements(requirement.name, requirement.extras))
    reachable = {name for name, _ in seen}
    missing = set(_imported_distributions()) - reachable
    assert not missing, f"imported, but no declared dependency brings them: {sorted(missing)}"
    assert "lxml-html-clean" in reachable


def test_every_imported_distribution_and_extra_is_declared() -> None:
    """What the code imports is declared, not only brought along by another package
    (which may drop it, as jusText's older releases never declared lxml's cleaner)."""
    requirements = _requirements("newsbote")
    declared = {_normal(r.name) for r in requirements}
    assert set(_imported_distributions()) - declared == set()
    lxml = [r for r in requirements if r.name == "lxml"]
    assert lxml and "html_clean" in lxml[0].extras
