"""Downloads that survive real networks, with nothing but the standard library.

A file is fetched into ``NAME.part`` beside its destination. A broken connection is resumed
where it stopped (an HTTP Range request); a server that stops sending for ``timeout`` seconds
is given up on with a message that says so; a mirror that fails (404, refused, stalled, a
wrong checksum) passes the turn to the next. The finished file is checked against its
checksum (sha256, or md5 where the publisher gives only that), flushed to disk and renamed
into place, so the destination is either absent or complete and verified. A wrong checksum
deletes the file and says so. A cancelled download keeps its ``.part`` to resume next time.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path

from ganstudio import __version__
from ganstudio.engine.errors import Cancelled, DatasetError

Progress = Callable[[int, int], None]  # (bytes so far, total bytes or 0 when unknown)
CancelCheck = Callable[[], bool]

_BLOCK = 1 << 16
_ATTEMPTS = 4  # connections per mirror: the first and up to three resumes


class _Incomplete(Exception):
    """The server closed the connection before sending the whole file."""


class _MirrorFailed(Exception):
    """This mirror cannot deliver the file; try the next."""


def download(
    urls: Sequence[str],
    dest: str | os.PathLike,
    *,
    sha256: str | None = None,
    md5: str | None = None,
    size: int | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    timeout: float = 30.0,
) -> Path:
    """Fetch ``dest`` from the first of ``urls`` that delivers it intact; its path.

    ``size`` only feeds the progress total when a server does not send one. An existing
    ``dest`` that matches its checksum is kept without a download.
    """
    dest = Path(dest)
    if dest.is_file() and _matches(dest, sha256, md5) is None:
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    failures = []
    for url in urls:
        try:
            _fetch(url, part, size, progress, cancel, timeout)
        except _MirrorFailed as e:
            failures.append(f"{url}: {e}")
            continue
        mismatch = _matches(part, sha256, md5)
        if mismatch is not None:
            part.unlink(missing_ok=True)
            failures.append(f"{url}: {mismatch}; the file was deleted")
            continue
        _fsync(part)
        os.replace(part, dest)
        return dest
    raise DatasetError(f"Could not download {dest.name}. " + " | ".join(failures))


def _fetch(url: str, part: Path, size: int | None, progress: Progress | None,
           cancel: CancelCheck | None, timeout: float) -> None:
    last = ""
    for _ in range(_ATTEMPTS):
        have = part.stat().st_size if part.is_file() else 0
        headers = {"User-Agent": f"GAN Studio/{__version__}"}
        if have:
            headers["Range"] = f"bytes={have}-"
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers),
                                        timeout=timeout) as response:
                _receive(response, part, have, size, progress, cancel)
            return
        except urllib.error.HTTPError as e:
            if e.code == 416 and have:  # nothing after what we have: it may be complete
                return
            if e.code in (408, 429) or e.code >= 500:
                last = f"HTTP {e.code} {e.reason}"
                continue
            raise _MirrorFailed(f"HTTP {e.code} {e.reason}") from None
        except TimeoutError:
            last = f"the server stalled (no data for {timeout:g} s)"
        except urllib.error.URLError as e:
            if isinstance(e.reason, TimeoutError):
                last = f"the server did not answer within {timeout:g} s"
            else:
                raise _MirrorFailed(f"cannot connect ({e.reason})") from None
        except _Incomplete as e:
            last = str(e)
        except (ConnectionError, http.client.HTTPException) as e:
            last = f"the connection broke ({e or type(e).__name__})"
    raise _MirrorFailed(f"gave up after {_ATTEMPTS} attempts: {last}")


def _receive(response, part: Path, have: int, size: int | None, progress: Progress | None,
             cancel: CancelCheck | None) -> None:
    if have and response.status == 206:
        start = response.headers.get("Content-Range", "").removeprefix("bytes ").split("-")[0]
        if start != str(have):
            raise _Incomplete(f"the server resumed at byte {start!r}, not at {have}")
    else:
        have = 0  # a 200 to a range request: the server sends the whole file again
    length = response.headers.get("Content-Length")
    total = have + int(length) if length and length.isdigit() else (size or 0)
    with open(part, "ab" if have else "wb") as f:
        while True:
            if cancel is not None and cancel():
                raise Cancelled(f"The download was cancelled; {part.name} is kept, so it "
                                "resumes where it stopped next time.")
            block = response.read1(_BLOCK)  # what has arrived: a stall keeps it
            if not block:
                break
            f.write(block)
            have += len(block)
            if progress is not None:
                progress(have, total)
    if length and have < total:
        raise _Incomplete(f"the connection closed after {have:,} of {total:,} bytes")


def _matches(path: Path, sha256: str | None, md5: str | None) -> str | None:
    """None when the file matches its checksum (or has none), else what went wrong."""
    if sha256:  # a prefix of 8 or more digits: torch.hub's convention, the hash in a file's name
        name, expected, digest = "sha256", sha256.lower(), hashlib.sha256()
    elif md5:
        name, expected, digest = "md5", md5.lower(), hashlib.md5(usedforsecurity=False)
    else:
        return None
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    got = digest.hexdigest()
    if got == expected or (name == "sha256" and len(expected) >= 8 and got.startswith(expected)):
        return None
    return f"wrong {name} checksum (expected {expected}, got {got})"


def _fsync(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def download_all(files: Sequence[tuple[Sequence[str], str, str | None, str | None, int | None]],
                 folder: Path, *, progress: Progress | None = None,
                 cancel: CancelCheck | None = None, timeout: float = 30.0) -> None:
    """Download several files ``(urls, name, sha256, md5, size)`` into ``folder``, with one
    progress over them all."""
    total = sum(size or 0 for *_, size in files)
    done = 0
    for urls, name, sha256, md5, size in files:
        def report(have: int, file_total: int, offset: int = done) -> None:
            if progress is not None:
                progress(offset + have, max(total, offset + file_total))

        path = download(urls, folder / name, sha256=sha256, md5=md5, size=size,
                        progress=report, cancel=cancel, timeout=timeout)
        done += path.stat().st_size


def download_dataset(
    name: str,
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    timeout: float = 30.0,
) -> Path:
    """Download a catalogue set's files into the cache; what to open (``open_source``)."""
    from ganstudio.engine.data.catalogue import download_folder, get_entry

    entry = get_entry(name)
    folder = download_folder(name)
    download_all([(entry.urls(f), f.name, f.sha256, f.md5, f.size) for f in entry.files],
                 folder, progress=progress, cancel=cancel, timeout=timeout)
    return folder / entry.open if entry.open else folder
