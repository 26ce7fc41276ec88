"""The documentation site builds with ``mkdocs build --strict`` (broken links, missing nav
files, unresolved API objects and docstring warnings all fail). Skipped when the docs tools
(the ``[docs]`` extra, also in ``[test]``) are not installed."""

import os
import subprocess
import sys
from pathlib import Path

import pytest


ROOT = Path(__file__).parents[1]


def test_mkdocs_build_strict(tmp_path):
    for mod in ("mkdocs", "material", "mkdocstrings_handlers.python", "mkdocs_jupyter"):
        pytest.importorskip(mod)
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    site = tmp_path / "site"
    # Pages users need exist, API pages hold rendered docstrings, notebooks are rendered.
    for page in ("index.html", "concepts/index.html", "interop/index.html", "api/core/index.html"):
        assert (site / page).exists(), page
    assert "spike in step" in (site / "concepts/index.html").read_text()
    assert "def simulate" not in (site / "api/core/index.html").read_text()  # no source shown
    assert "sample_every" in (site / "api/core/index.html").read_text()  # simulate's docstring
    nb = sorted((ROOT / "examples" / "notebooks").glob("*.py"))
    for path in nb:
        assert (site / "notebooks" / path.stem / "index.html").exists(), path.name


def test_every_notebook_and_page_is_in_the_nav():
    yaml = pytest.importorskip("yaml")
    nav = yaml.safe_load((ROOT / "mkdocs.yml").read_text())["nav"]

    def leaves(node):
        if isinstance(node, dict):
            for v in node.values():
                yield from leaves(v)
        elif isinstance(node, list):
            for v in node:
                yield from leaves(v)
        else:
            yield node

    in_nav = set(leaves(nav))
    missing = [f"notebooks/{p.name}" for p in sorted((ROOT / "examples" / "notebooks").glob("*.py"))]
    missing += [p.relative_to(ROOT / "docs").as_posix() for p in sorted((ROOT / "docs").glob("**/*.md"))]
    missing = [m for m in missing if m not in in_nav]
    assert not missing, f"add these to the nav in mkdocs.yml: {missing}"


def test_every_public_name_is_in_the_api_reference():
    """Every name exported by ``jaxgeci`` has an entry (``::: jaxgeci.NAME``) in docs/api/, or is
    the same object as one that has (Cleo's alias spellings, named on the page)."""
    import jaxgeci

    pages = "".join(p.read_text() for p in sorted((ROOT / "docs" / "api").glob("*.md")))
    documented = {n for n in dir(jaxgeci) if f"::: jaxgeci.{n}\n" in pages}
    assert documented  # the pattern matches at all
    missing = [
        n
        for n in dir(jaxgeci)
        if not n.startswith("_")
        and n not in documented
        and not isinstance(getattr(jaxgeci, n), type(jaxgeci))  # subpackages have their own pages
        and not any(getattr(jaxgeci, n) is getattr(jaxgeci, d) for d in documented)
    ]
    assert not missing, f"add these to docs/api/*.md: {missing}"


USER_DOCS = ["README.md", "fitting/README.md", "benchmarks/README.md"] + [
    p.relative_to(ROOT).as_posix() for p in sorted((ROOT / "docs").glob("*.md"))
]
TEAM_WORDS = [
    r"\bissues? \d",  # "issue 5"
    r"\bthe issue\b",
    r"DESIGN(\.md| §)",
    r"\.\./shared",
    r"\bbranch(es)?\b",
    r"\bsessions?\b(?! *\.nwb| description| id)",  # an NWB session is fine; a work session is not
    r"\bengineers?\b",
    r"\bhelpers?\b(?! function)",
    r"GPU-ready",
]


@pytest.mark.parametrize("page", USER_DOCS)
def test_user_docs_speak_to_users_not_to_the_team(page):
    """User docs name no issues, design sections, branches, work sessions, sibling folders or
    earlier engineers: a user has only the repository."""
    import re

    text = (ROOT / page).read_text()
    hits = [
        f"{page}:{n}: {line.strip()[:100]}"
        for n, line in enumerate(text.splitlines(), 1)
        for pat in TEAM_WORDS
        if re.search(pat, line, flags=re.IGNORECASE)
    ]
    assert not hits, "\n".join(hits)


def test_licence_and_citation_files():
    yaml = pytest.importorskip("yaml")
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["license"] == "MIT" and cff["cff-version"] == "1.2.0"
    cited = " ".join(r["title"] + " " + r.get("notes", "") for r in cff["references"])
    for what in ("Cleo", "NAOMi", "Fast and sensitive GCaMP", "Cascade"):
        assert what in cited, what
