"""Atomic file writes: a temporary file in the same folder, fsync, then rename.

A crash at any point leaves either the old file or the new one, never a torn mix. A write
never lands on something that is not a regular file (a folder, a device such as /dev/null, a
FIFO) or on a symbolic link, and it replaces an existing file only when the caller says that
is intended (``replace=True``): nothing a user has is overwritten by surprise.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat
import time
import uuid
from pathlib import Path

from ganstudio.engine.errors import OutputError
from ganstudio.engine.readers import describe_stat

# ".NAME.0123456789ab.tmp": what a writer killed between its write and its rename leaves.
_TEMPORARY = re.compile(r"\..+\.[0-9a-f]{12}\.tmp")


def atomic_write_bytes(path: str | os.PathLike, data: bytes, *, replace: bool = False) -> Path:
    """Write ``data`` to ``path`` atomically; ``replace`` allows replacing a regular file."""
    path = Path(path)
    check_writable(path, replace=replace)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"Cannot write {path}: {path.parent} is a file, not a folder.") from None
    # Not mkstemp: its files are private (0600); this one gets the usual umask permissions.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:12]}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        check_writable(path, replace=replace)  # again: the write may have taken a while
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)
    return path


def atomic_write_text(path: str | os.PathLike, text: str, *, replace: bool = False) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"), replace=replace)


def atomic_write_json(path: str | os.PathLike, obj, *, replace: bool = False) -> Path:
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n",
                             replace=replace)


def check_writable(path: str | os.PathLike, *, replace: bool = False) -> None:
    """Refuse to write ``path`` when it is a link or not a regular file, or when it exists and
    ``replace`` is false; an OutputError says which."""
    path = Path(path)
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    except OSError as e:
        raise OutputError(f"Cannot write {path}: {e.strerror or e}.") from None
    if stat.S_ISLNK(st.st_mode):
        raise OutputError(
            f"{path} is a symbolic link; GAN Studio does not write through or replace links. "
            "Name the file itself, or a new file."
        )
    if stat.S_ISDIR(st.st_mode):
        raise OutputError(f"{path} is a folder; name a file inside it, such as "
                          f"{path / 'samples.png'}.")
    if not stat.S_ISREG(st.st_mode):
        raise OutputError(f"{path} is {describe_stat(st)}, not a regular file; GAN Studio "
                          "writes only regular files.")
    if not replace:
        raise OutputError(f"{path} already exists; choose another name, or say that it may be "
                          "replaced.")


def remove_orphan_temporaries(folder: str | os.PathLike, older_than: float = 0.0) -> list[Path]:
    """Delete the temporary files that writers killed mid-write left in ``folder``.

    Call it only where no other writer can be at work (a run folder whose lock is held), or
    with ``older_than`` seconds long enough that no live write can be that old.
    """
    removed = []
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        if not _TEMPORARY.fullmatch(entry.name):
            continue
        try:
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISREG(st.st_mode) and now - st.st_mtime >= older_than:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            continue  # gone already, or not ours to delete
    return removed


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (a no-op where folders cannot be opened, as on Windows)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
