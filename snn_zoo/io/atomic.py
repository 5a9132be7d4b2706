"""Atomic writes: a file or folder is either the old complete one or the new complete one, never half.

Everything is staged in the target's own folder (same file system, so ``os.replace`` is an atomic
rename), flushed and fsynced, then swapped in. Staged files are created with mode 0o666 minus the
umask, like any file the user writes (``tempfile.mkstemp`` would make them 0600). A full disk raises
:class:`NoSpaceError`, which names the path and says the previous version is intact.
"""

from __future__ import annotations

import errno
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

PathLike = str | os.PathLike
_DISK_FULL = (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))

__all__ = [
    "NoSpaceError",
    "atomic_directory",
    "atomic_write_bytes",
    "atomic_write_text",
    "disk_full_cause",
    "make_readable",
    "no_space_error",
    "replace_directory",
    "stage_files_into",
]


class NoSpaceError(OSError):
    """The disk (or quota) filled up during an atomic write; the previous file or folder is untouched."""


#: Under this much free space a failed write is taken as a full disk (see :func:`disk_full_cause`).
_NEARLY_FULL = 1 << 20


def disk_full_cause(error: BaseException, where: PathLike) -> OSError | None:
    """The OSError(ENOSPC / EDQUOT) behind ``error`` when the disk filled up, else None.

    An OSError says so itself (also as the cause of another error); safetensors says "... (os error 28)";
    torch.save raises a RuntimeError that says only "unexpected pos 576 vs 534", so for a RuntimeError the free
    space on ``where``'s file system decides (under 1 MiB: full). Call it before removing staged files, which
    frees the space.
    """
    if not isinstance(error, Exception):  # KeyboardInterrupt, SystemExit
        return None
    for e in (error, error.__cause__, error.__context__):
        if isinstance(e, OSError) and e.errno in _DISK_FULL:
            return e
    found = re.search(r"\(os error (\d+)\)|Os \{ code: (\d+)", str(error))
    if found:
        code = int(found.group(1) or found.group(2))
        return OSError(code, os.strerror(code)) if code in _DISK_FULL else None
    if not isinstance(error, RuntimeError):  # torch.save's "[enforce fail ...]"; nothing else is guessed at
        return None
    folder = Path(where)
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return None
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC)) if free < _NEARLY_FULL else None


def _staging_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def _no_space(path: Path, error: OSError) -> NoSpaceError:
    what = "folder" if path.is_dir() else "file"
    previous = (
        f"the previous {what} {str(path)!r} is intact" if path.exists() else f"nothing was written to {str(path)!r}"
    )
    err = NoSpaceError(
        f"no space left on device while writing {str(path)!r}; {previous}. "
        f"Free some space (or choose another --output) and run again."
    )
    err.errno = error.errno
    return err


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(item: Path, mask: int) -> None:
    """fsync ``item`` and give it the mode any user-written file gets (some writers, e.g. safetensors'
    save_file, create 0600 files)."""
    if item.is_dir():
        os.chmod(item, 0o777 & ~mask)
        return
    os.chmod(item, 0o666 & ~mask)
    with open(item, "rb+") as f:
        os.fsync(f.fileno())


def make_readable(path: PathLike) -> None:
    """Give ``path`` (a file, or a folder and everything in it) the modes the umask allows, fsynced."""
    path, mask = Path(path), _umask()
    for item in [path, *path.rglob("*")] if path.is_dir() else [path]:
        _publish(item, mask)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # some file systems (and Windows) cannot open folders
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through a staged file in the same folder, then ``os.replace``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _staging_name(path)
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)  # umask applies
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as e:
        full = None if isinstance(e, NoSpaceError) else disk_full_cause(e, tmp)
        Path(tmp).unlink(missing_ok=True)
        if full is not None:
            raise _no_space(path, full) from e
        raise
    _fsync_dir(path.parent)


def atomic_write_text(path: PathLike, text: str) -> None:
    """Text (UTF-8) version of :func:`atomic_write_bytes`."""
    atomic_write_bytes(path, text.encode("utf-8"))


def replace_directory(staged: PathLike, final: PathLike) -> None:
    """Swap the complete folder ``staged`` in as ``final``.

    The old ``final`` is first renamed to ``final.old`` and removed only after the swap, so a kill
    at any moment leaves ``final`` or ``final.old`` complete (readers such as
    ``snn_zoo.train.state.find_run_state`` look at both).
    """
    staged, final = Path(staged), Path(final)
    old = final.with_name(final.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    staged.rename(final)
    _fsync_dir(final.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextmanager
def atomic_directory(final: PathLike) -> Iterator[Path]:
    """Stage a folder next to ``final`` and swap it in whole when the block ends without error.

    ``with atomic_directory(out / "state") as tmp: write files into tmp``. On error the staged
    folder is removed and ``final`` is left as it was. Files written inside are fsynced before the swap.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    staged = _staging_name(final)
    staged.mkdir(mode=0o777)  # umask applies, like any folder the user makes
    try:
        yield staged
        mask = _umask()
        for item in staged.rglob("*"):
            _publish(item, mask)
        replace_directory(staged, final)
    except BaseException as e:
        full = None if isinstance(e, NoSpaceError) else disk_full_cause(e, staged)
        shutil.rmtree(staged, ignore_errors=True)
        if full is not None:
            raise _no_space(final, full) from e
        raise


def stage_files_into(staged: PathLike, directory: PathLike) -> list[str]:
    """Move every file of the folder ``staged`` into ``directory`` one by one with ``os.replace``.

    Each file lands whole (no reader ever sees a half-written one); returns the names moved.
    """
    staged, directory = Path(staged), Path(directory)
    names, mask = [], _umask()
    for item in sorted(staged.iterdir()):
        _publish(item, mask)
        os.replace(item, directory / item.name)
        names.append(item.name)
    _fsync_dir(directory)
    return names


def no_space_error(path: PathLike, error: BaseException) -> BaseException:
    """``error`` re-phrased as :class:`NoSpaceError` when it is a full disk (:func:`disk_full_cause`, asked
    about ``path``), else ``error`` itself."""
    if isinstance(error, NoSpaceError):
        return error
    full = disk_full_cause(error, path)
    return error if full is None else _no_space(Path(path), full)
