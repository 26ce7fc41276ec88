import os
import shutil
import tempfile


# One persistent XLA compilation cache per test run, created by the first process that loads
# this file (the xdist controller) and inherited through the environment by the workers and by
# the subprocesses that run examples, notebooks and the CLI: a program compiled by several
# tests (same shapes and settings) is compiled once. Measured on the 2-core CI-like machine:
# tests/test_fit.py 3:16-3:32 without, 3:02-3:07 with. A user's own cache dir is respected.
_OWN_CACHE = None
if not os.environ.get("JAX_COMPILATION_CACHE_DIR"):
    _OWN_CACHE = tempfile.mkdtemp(prefix="jaxgeci-tests-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _OWN_CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.2")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")

import jax  # noqa: E402  (after the cache settings, which jax reads at import)
import pytest  # noqa: E402


def pytest_sessionfinish(session, exitstatus):
    if _OWN_CACHE is not None and not hasattr(session.config, "workerinput"):
        shutil.rmtree(_OWN_CACHE, ignore_errors=True)


jax.config.update("jax_numpy_rank_promotion", "raise")


@pytest.fixture
def x64():
    """Run the test body in float64 (per test, not globally)."""
    with jax.enable_x64(True):
        yield


@pytest.fixture
def getkey():
    keys = iter(jax.random.split(jax.random.key(0), 10_000))
    return lambda: next(keys)


@pytest.fixture(autouse=True)
def _restore_x64():
    """Command lines run in-process (``fitting`` subcommands) switch float64 on globally, as
    a user's process would; restore the suite's float32 default after every test so that no
    test depends on which tests ran before it on the same worker."""
    before = bool(jax.config.jax_enable_x64)
    yield
    if bool(jax.config.jax_enable_x64) != before:
        jax.config.update("jax_enable_x64", before)
