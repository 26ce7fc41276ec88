"""Resumable fit checkpoints that cannot tear: the optimiser state (``PATH``, Equinox leaves)
and its JSON sidecar (``PATH.json``: settings hash, step, loss history, checksum of the state)
are committed as a pair, a lock file (``PATH.lock``) keeps a second fit off the same
checkpoint, and a damaged checkpoint is refused with a message instead of a traceback.

Writing a pair: both files are written to temporaries and fsync'ed; the sidecar carries the
SHA-256 of the state it belongs to. Then the state replaces ``PATH`` and the sidecar replaces
``PATH.json`` (``os.replace``, atomic on POSIX), and the directory is fsync'ed. A kill at any
point leaves one of three states, each recovered on the next load:

- before the first replace: if both temporaries are complete and match by checksum, the
  commit is completed; otherwise they are discarded and the previous pair stands (the resumed
  fit repeats the steps since, bit-identically);
- between the two replaces: the new state sits next to the old sidecar, but the pending
  sidecar ``PATH.json.tmp`` matches it by checksum, so the commit is completed;
- after both: the new pair.

A state whose checksum matches no sidecar is corrupt and refused (it used to resume with a
loss history that silently lacked the steps since the previous save).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os

import equinox as eqx


FORMAT = "jaxgeci.checkpoint/2"

try:  # POSIX advisory locks; elsewhere checkpoints are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_synced(path: str, data: bytes) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


def _sync_dir(path: str) -> None:
    with contextlib.suppress(OSError):  # not every platform/file system can fsync a directory
        fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def _sidecar(path: str, data: bytes | None) -> dict | None:
    """The parsed sidecar, or None if absent; ValueError naming the file if it is not JSON."""
    if data is None:
        return None
    try:
        info = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(
            f"checkpoint sidecar {path!r} is corrupt ({e}); delete {path[: -len('.json')]!r} and its "
            ".json/.tmp files to start the fit over."
        ) from None
    if not isinstance(info, dict):
        raise ValueError(f"checkpoint sidecar {path!r} is not a JSON object; delete the checkpoint to start over.")
    return info


# ---------------------------------------------------------------------------- lock


class CheckpointLock:
    """An exclusive ``fcntl.flock`` on ``PATH.lock`` while a fit uses checkpoint ``PATH``.

    A second process that asks for the same checkpoint gets a ``ValueError`` at once (no
    waiting). The lock dies with its process, so a killed fit never leaves a stale lock; the
    empty lock file stays (deleting it while others may open it would race). Within one
    process a new fit on the same path takes the lock over (an interrupted fit in a notebook
    must not block its rerun).
    """

    _held: dict = {}

    def __init__(self, path: str | None):
        self.path = path
        self._fd = None

    @classmethod
    def acquire(cls, path: str | os.PathLike | None) -> CheckpointLock:
        """Lock checkpoint ``path`` (None: a no-op lock)."""
        lock = cls(None if path is None else os.fspath(path))
        if lock.path is None or fcntl is None:
            return lock
        key = os.path.realpath(lock.path)
        old = cls._held.pop(key, None)
        if old is not None:
            old.release()
        os.makedirs(os.path.dirname(os.path.abspath(lock.path)) or ".", exist_ok=True)
        fd = os.open(lock.path + ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.pread(fd, 64, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise ValueError(
                f"checkpoint {lock.path!r} is in use by another fit (process {holder} holds "
                f"{lock.path + '.lock'!r}); wait for it to finish or choose another checkpoint path."
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        lock._fd = fd
        cls._held[key] = lock
        return lock

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            CheckpointLock._held.pop(os.path.realpath(self.path), None)

    def __del__(self):  # a fit that raised between acquire and release
        with contextlib.suppress(Exception):
            self.release()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


# ---------------------------------------------------------------------------- save / load


def save_checkpoint(path: str, tree, step: int, history: list, meta: dict) -> None:
    """Commit ``tree`` (Equinox-serialisable) with its sidecar ``{**meta, step, loss_history,
    format, state_sha256}`` as a pair (see the module docstring)."""
    buf = io.BytesIO()
    eqx.tree_serialise_leaves(buf, tree)
    state = buf.getvalue()
    info = {**meta, "format": FORMAT, "step": int(step), "loss_history": list(history), "state_sha256": _sha(state)}
    side = json.dumps(info, allow_nan=True).encode("utf-8")  # a NaN loss stays readable by json.loads
    _write_synced(path + ".tmp", state)
    _write_synced(path + ".json.tmp", side)
    os.replace(path + ".tmp", path)
    os.replace(path + ".json.tmp", path + ".json")
    _sync_dir(path)


def _recover(path: str) -> None:
    """Finish or discard a save that a kill interrupted (see the module docstring)."""
    pending = _read(path + ".json.tmp")
    if pending is None:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path + ".tmp")  # state written, sidecar never started: the old pair stands
        return
    try:
        want = json.loads(pending.decode("utf-8")).get("state_sha256")
    except (UnicodeDecodeError, ValueError, AttributeError):
        want = None  # the pending sidecar itself was cut short: the old pair stands
    tmp_state, state = _read(path + ".tmp"), _read(path)
    if want is not None and tmp_state is not None and _sha(tmp_state) == want:
        os.replace(path + ".tmp", path)  # killed before the first replace: roll forward
        os.replace(path + ".json.tmp", path + ".json")
    elif want is not None and state is not None and _sha(state) == want:
        os.replace(path + ".json.tmp", path + ".json")  # killed between the replaces
    else:
        for p in (path + ".tmp", path + ".json.tmp"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(p)
        return
    _sync_dir(path)


def checkpoint_exists(path: str) -> bool:
    """Whether a checkpoint (complete or not) is at ``path``, after recovering an interrupted save."""
    _recover(path)
    return os.path.exists(path) or os.path.exists(path + ".json")


def load_checkpoint(path: str, like, meta: dict):
    """``(tree, step, history)`` from the checkpoint at ``path``, structured like ``like``.

    Raises ``ValueError`` naming the checkpoint if it belongs to another fit (settings hash),
    if one of the pair is missing, if the state does not match its sidecar's checksum, or if it
    cannot be read into this fit's parameter structure.
    """
    _recover(path)
    delete = f"delete {path!r} and {path + '.json'!r} to start the fit over"
    state, info = _read(path), _sidecar(path + ".json", _read(path + ".json"))
    if state is None or info is None:
        have, lack = (path, path + ".json") if info is None else (path + ".json", path)
        raise ValueError(f"checkpoint {have!r} has no {lack!r} (an incomplete checkpoint); {delete}.")
    if info.get("hash") != meta["hash"]:
        raise ValueError(
            f"checkpoint {path!r} belongs to a different fit (settings hash {info.get('hash')} != "
            f"{meta['hash']}); delete it or choose another checkpoint path."
        )
    if "state_sha256" in info and _sha(state) != info["state_sha256"]:
        raise ValueError(f"checkpoint {path!r} is corrupt: its state does not match its sidecar's checksum; {delete}.")
    step, history = info.get("step"), info.get("loss_history")
    if not isinstance(step, int) or not isinstance(history, list) or len(history) != step:
        raise ValueError(
            f"checkpoint {path!r} is corrupt: step {step!r} with "
            f"{len(history) if isinstance(history, list) else history!r} loss values; {delete}."
        )
    try:
        tree = eqx.tree_deserialise_leaves(io.BytesIO(state), like)
    except Exception as e:  # equinox's TreePathError, numpy's ValueError on truncated leaves, ...
        raise ValueError(
            f"checkpoint {path!r} cannot be read into this fit's parameters ({type(e).__name__}: "
            f"{' '.join(str(e).split())[:200]}); it is corrupt or from another version; {delete}."
        ) from None
    if not all(isinstance(v, (int, float)) for v in history):
        raise ValueError(f"checkpoint {path!r} is corrupt: its loss history holds non-numbers; {delete}.")
    return tree, step, [float(v) for v in history]
