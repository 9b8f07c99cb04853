"""Image folders, searched recursively; first-level subfolders are the classes."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import BinaryIO

from ganstudio.engine.data.image_files import is_image_name
from ganstudio.engine.data.sources import EncodedSource, folder_labels
from ganstudio.engine.errors import DatasetError


class FolderSource(EncodedSource):
    """Every image file under a folder, in sorted order of their relative paths.

    Hidden files and folders (a leading dot) and files that are not named as images are left
    out quietly; symbolic links to folders are not followed, so a link loop cannot hang it.
    """

    format = "image-folder"

    def __init__(self, path: Path):
        names: list[str] = []
        quiet = 0
        for root, dirs, files in os.walk(path, followlinks=False):
            dirs[:] = [d for d in dirs if not d.startswith(".")]
            prefix = Path(root).relative_to(path).as_posix()
            prefix = "" if prefix == "." else prefix + "/"
            for name in files:
                if name.startswith(".") or not is_image_name(name):
                    quiet += 1
                else:
                    names.append(prefix + name)
        names.sort()
        classes, labels = folder_labels(names)
        super().__init__(path, names, classes=classes, labels=labels, quiet_skips=quiet,
                         description="image folder")
        self._fingerprint: str | None = None

    def open_item(self, i: int) -> BinaryIO:
        try:
            return open(self.path / self.names[i], "rb")
        except OSError as e:
            raise DatasetError(f"{self.name(i)} cannot be opened ({e.strerror}).") from None

    def fingerprint(self) -> str:
        """Names, sizes and modification times: hashing every file's bytes would take minutes."""
        if self._fingerprint is None:
            digest = hashlib.sha256(b"image-folder")
            for name in self.names:
                try:
                    st = (self.path / name).stat()
                    digest.update(f"\0{name}\0{st.st_size}\0{st.st_mtime_ns}".encode())
                except OSError:
                    digest.update(f"\0{name}\0missing".encode())
            self._fingerprint = digest.hexdigest()[:32]
        return self._fingerprint
