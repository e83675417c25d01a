"""Atomic writes: a file is either the old version or the complete new one, never half written.

Built folders (datasets, release trees, model folders) are staged in a sibling temp folder and
swapped in by :func:`swap_folder`, the one place that replaces a folder. It replaces only a folder
mijabench created before (it holds :data:`MARKER`) or an empty one; anything else is refused
unless the caller claimed it with ``--overwrite`` (:func:`claim_output`). An existing file is never
renamed or replaced by a folder, and folders get the user's umask, like ``mkdir``.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mijabench.errors import MijaError

MARKER = ".mijabench-output"  # hidden: never uploaded (hub.publish ignores dot files)
MARKER_TEXT = "This folder was written by mijabench; a rebuild may replace it.\n"


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


# mkstemp creates 0600 files and mkdtemp 0700 folders; outputs get the usual modes instead
# (0644 / 0755 under umask 022).
FILE_MODE = 0o666 & ~_umask()
DIR_MODE = 0o777 & ~_umask()

_claimed: set[Path] = set()  # folders the user allowed us to replace (--overwrite), this process


def _os_error(path: Path, exc: OSError, what: str = "write") -> MijaError:
    reason = exc.strerror or type(exc).__name__
    where = exc.filename or path
    return MijaError(f"{where}: cannot {what} ({reason}); pass another --out or fix the permissions")


def check_file_target(path: Path) -> Path:
    """A file may be written at ``path``: not a folder, and its parent can be a folder."""
    path = Path(path)
    if path.is_dir():
        raise MijaError(f"{path}: is a folder; pass a file path (e.g. {path / 'out.parquet'})")
    parent = next((p for p in path.parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise MijaError(f"{parent}: is a file, not a folder; pass another output path")
    return path


def _replace_from_tmp(path: Path, write) -> Path:
    path = check_file_target(path)
    make_folder(path.parent)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _os_error(path.parent, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, FILE_MODE)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: Path, data: bytes) -> Path:
    return _replace_from_tmp(path, lambda fh: fh.write(data))


def write_text(path: Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_parquet(path: Path, table: pa.Table) -> Path:
    # Fixed writer options so identical tables give byte-identical files.
    return _replace_from_tmp(
        path, lambda fh: pq.write_table(table, fh, compression="zstd", write_statistics=True))


# --- folders ---------------------------------------------------------------------------------------
def make_folder(path: Path, option: str = "--out") -> Path:
    """``mkdir -p`` with one-line errors: a file in the way, or no permission."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise MijaError(f"{path}: is a file, not a folder; pass a folder path to {option}") from None
    except NotADirectoryError:
        raise MijaError(f"{path}: a parent of it is a file; pass a folder path to {option}") from None
    except OSError as exc:
        raise _os_error(path, exc, "create the folder") from None
    return path


def _protected(out: Path) -> bool:
    """The current folder, one of its parents, home or the root: never replaced."""
    resolved, cwd = out.resolve(), Path.cwd().resolve()
    return resolved in (cwd, *cwd.parents, Path.home().resolve(), Path(resolved.anchor))


def check_output_folder(out: Path, option: str = "--out") -> None:
    """Refuse, in one line, an ``out`` that a finished build must not replace."""
    out = Path(out)
    if _protected(out):
        raise MijaError(f"{option} {out}: is the current folder or one of its parents; pass a new "
                        "sub-folder such as build/NAME")
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise MijaError(f"{option} {out}: is a file, not a folder; pass a new folder path "
                        "(an existing file is never replaced)")
    if out.is_dir() and not _ours(out) and out.resolve() not in _claimed:
        raise MijaError(f"{option} {out}: exists and holds files mijabench did not write; pass a "
                        "new or empty folder, or add --overwrite to replace it")


def _ours(folder: Path) -> bool:
    try:
        return (folder / MARKER).is_file() or not any(folder.iterdir())
    except OSError as exc:
        raise _os_error(folder, exc, "read the folder") from None


def claim_output(out: Path, overwrite: bool = False, option: str = "--out") -> None:
    """Check ``out`` before a long build; with ``overwrite`` a foreign folder may be replaced."""
    out = Path(out)
    if overwrite and out.is_dir() and not _protected(out) and not out.is_symlink():
        _claimed.add(out.resolve())
    check_output_folder(out, option)


def staging_folder(out: Path) -> Path:
    """An empty sibling temp folder of ``out`` to build in (same file system: the swap is a rename)."""
    out = Path(out)
    check_output_folder(out)
    parent = make_folder(out.parent)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=parent))
    except OSError as exc:
        raise _os_error(parent, exc) from None
    os.chmod(tmp, DIR_MODE)
    return tmp


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """Build ``out`` in a :func:`staging_folder`: on success it replaces ``out``
    (:func:`swap_folder`); on any failure the staging folder is removed, never ``out``."""
    tmp = staging_folder(out)
    try:
        yield tmp
        swap_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)  # our own staging folder, never the user's
        raise


def swap_folder(tmp: Path, out: Path) -> None:
    """Replace folder ``out`` by the finished ``tmp`` (a sibling), keeping the old one until then.

    The old folder is moved to a fresh hidden name first (never a fixed name another file could
    hold), then deleted only once the new one is in place.
    """
    tmp, out = Path(tmp), Path(out)
    check_output_folder(out)
    write_text(tmp / MARKER, MARKER_TEXT)
    os.chmod(tmp, DIR_MODE)
    if not out.is_dir():
        tmp.rename(out)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
    try:
        out.rename(old)  # onto an empty folder: allowed, and atomic
    except OSError as exc:
        old.rmdir()
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EBUSY):
            raise _os_error(out, exc, "replace the folder") from None
        raise
    tmp.rename(out)
    shutil.rmtree(old, ignore_errors=True)
