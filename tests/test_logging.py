"""Library code logs with ``logging`` and never prints (scripts under fitting/, examples/ and
benchmarks/ may print)."""

import ast
from pathlib import Path


PKG = Path(__file__).resolve().parents[1] / "jaxgeci"


def test_library_never_prints():
    offenders = []
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{path.relative_to(PKG.parent)}:{node.lineno}")
    assert not offenders, f"print() in library code (use logging): {offenders}"


def test_loggers_live_under_jaxgeci():
    """Every module-level logger is named jaxgeci or jaxgeci.*, so one
    ``logging.getLogger("jaxgeci")`` controls them all."""
    import logging

    import jaxgeci  # noqa: F401  (import every module, creating their loggers)

    names = [n for n in logging.Logger.manager.loggerDict if n.startswith("jaxgeci")]
    assert names, "expected at least one jaxgeci logger"
    assert all(n == "jaxgeci" or n.startswith("jaxgeci.") for n in names)
