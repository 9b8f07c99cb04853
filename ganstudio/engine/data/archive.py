"""Zip and tar archives of an image folder, read in place: nothing is extracted to disk.

Members whose path is absolute or climbs out with ``..`` are refused and named; links and
devices inside a tar are passed over. A zip written by StyleGAN2-ADA's ``dataset_tool.py``
(a ``dataset.json`` at its root) takes its classes from that file's labels. A tar that holds
CIFAR batches (the publisher's ``cifar-10-python.tar.gz``, say) is read as CIFAR.
"""

from __future__ import annotations

import bz2
import gzip
import io
import json
import lzma
import tarfile
import zipfile
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ganstudio.engine.data.image_files import is_image_name
from ganstudio.engine.data.sources import (
    EncodedSource,
    ImageSource,
    Skipped,
    fingerprint_files,
    folder_labels,
    is_hidden,
    strip_common_root,
    unsafe_member,
)
from ganstudio.engine.errors import DatasetError
from ganstudio.engine.readers import check_zip_method

MAX_MEMBER_BYTES = 256 << 20  # an image file larger than this is refused, not read
_MAX_LABELS_BYTES = 256 << 20  # the largest dataset.json read
_COMPRESSED = {b"\x1f\x8b": gzip.open, b"BZh": bz2.open, b"\xfd7zXZ\x00": lzma.open}


def decompressed_head(path: Path, head: bytes) -> bytes | None:
    """The first bytes of a gzip, bzip2 or xz file's content; None when it is not one."""
    for magic, opener in _COMPRESSED.items():
        if head.startswith(magic):
            try:
                with opener(path, "rb") as f:
                    return f.read(512)
            except (OSError, EOFError, lzma.LZMAError):
                return b""
    return None


def is_tar(head: bytes) -> bool:
    return len(head) >= 262 and head[257:262] == b"ustar"


class ZipSource(EncodedSource):
    """The images in a zip; a StyleGAN2-ADA ``dataset.json`` at its root gives the labels."""

    format = "zip"

    def __init__(self, path: Path):
        try:
            self._zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, ValueError) as e:
            raise DatasetError(f"{path} is not a readable zip file ({e}).") from None
        members, skipped, quiet = [], [], 0
        for info in self._zip.infolist():
            if info.is_dir():
                continue
            why = unsafe_member(info.filename)
            if why is not None:
                skipped.append(_refused(path, info.filename, why))
            elif info.filename == "dataset.json":
                continue
            elif is_hidden(info.filename) or not is_image_name(info.filename):
                quiet += 1
            elif info.file_size > MAX_MEMBER_BYTES:
                skipped.append(_refused(path, info.filename, _too_large(info.file_size)))
            else:
                members.append(info)
        members.sort(key=lambda info: info.filename)
        self._members = members
        description = "zip of images"
        if "dataset.json" in self._zip.NameToInfo:
            classes, labels, unlabelled, note = self._stylegan_labels(path)
            if unlabelled:
                for k in unlabelled:
                    name = f"{path.name}/{members[k].filename}"
                    skipped.append(Skipped(name, f"{name} was left out: dataset.json gives it "
                                                 "no label."))
                keep = np.ones(len(members), bool)
                keep[unlabelled] = False
                self._members = [m for m, k in zip(members, keep) if k]
                labels = labels[keep] if labels is not None else None
            names = [m.filename for m in self._members]
            description = "StyleGAN2-ADA dataset zip" + note
        else:
            names = strip_common_root([m.filename for m in members])
            classes, labels = folder_labels(names)
        super().__init__(path, names, classes=classes, labels=labels, skipped=skipped,
                         quiet_skips=quiet, description=description)
        self._fingerprint: str | None = None

    def name(self, i: int) -> str:
        return f"{self.path.name}/{self._members[i].filename}"

    def _stylegan_labels(self, path: Path):
        """(classes, labels, indices of members without a label, note) from dataset.json.

        dataset_tool writes ``{"labels": [["00000/img00000000.png", 6], …]}`` or
        ``{"labels": null}``; a label is a class index (a one-hot vector is read as one too).
        """
        info = self._zip.NameToInfo["dataset.json"]
        if info.file_size > _MAX_LABELS_BYTES:
            raise DatasetError(f"{path.name}/dataset.json is too large to be a label file.")
        try:
            raw = json.loads(self._zip.read(info))
        except (ValueError, zipfile.BadZipFile, OSError) as e:
            raise DatasetError(f"{path.name}/dataset.json is not valid JSON ({e}).") from None
        entries = raw.get("labels") if isinstance(raw, dict) else None
        if entries is None:
            return (), None, [], " (unlabelled)"
        by_name: dict[str, int] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not (isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str)):
                raise DatasetError(f"{path.name}/dataset.json: labels must be [name, label] pairs.")
            label = _class_index(entry[1])
            if label is None:
                return (), None, [], " (its labels are vectors, not classes: read unlabelled)"
            by_name[entry[0]] = label
        if not by_name:
            return (), None, [], " (unlabelled)"
        labels = np.array([by_name.get(m.filename, -1) for m in self._members], np.int64)
        unlabelled = [int(k) for k in np.flatnonzero(labels < 0)]
        classes = tuple(str(k) for k in range(max(by_name.values()) + 1))
        return classes, labels, unlabelled, ""

    def open_item(self, i: int) -> BinaryIO:
        check_zip_method(self._members[i], self.name(i), DatasetError)
        try:
            return io.BytesIO(self._zip.read(self._members[i]))
        except (zipfile.BadZipFile, OSError, EOFError, ValueError) as e:
            raise DatasetError(f"{self.name(i)} cannot be read from the zip ({e}).") from None

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_files([self.path], self.format)
        return self._fingerprint

    def close(self) -> None:
        self._zip.close()


def _refused(path: Path, member: str, why: str) -> Skipped:
    name = f"{path.name}/{member}"
    return Skipped(name, f"{name} was refused: {why}.")


def _too_large(size: int) -> str:
    return f"{size:,} bytes is more than an image file needs ({MAX_MEMBER_BYTES:,} at most)"


def _class_index(label) -> int | None:
    if isinstance(label, int) and not isinstance(label, bool) and label >= 0:
        return label
    if (isinstance(label, list) and label and all(v in (0, 1) for v in label)
            and sum(label) == 1):
        return label.index(1)
    return None


def open_tar(path: Path, split: str) -> ImageSource:
    """A tar (plain or compressed) of images, or of CIFAR batches."""
    from ganstudio.engine.data import cifar

    errors = (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error)
    try:
        tar = tarfile.open(path, "r:*")  # noqa: SIM115 - the source it returns keeps it open
    except errors as e:
        raise DatasetError(f"{path} is not a readable tar archive ({e}).") from None
    try:
        members = tar.getmembers()
    except errors as e:
        tar.close()
        raise DatasetError(f"{path} is damaged ({e}).") from None
    source = cifar.open_tar(path, tar, members, split)
    return source if source is not None else TarSource(path, tar, members)


class TarSource(EncodedSource):
    """The images in a tar. A compressed tar is read in order (``iter_items`` streams it)."""

    format = "tar"

    def __init__(self, path: Path, tar: tarfile.TarFile, members: list[tarfile.TarInfo]):
        self._tar = tar
        kept, skipped, quiet = [], [], 0
        for m in members:
            why = unsafe_member(m.name)
            if why is not None:
                skipped.append(_refused(path, m.name, why))
            elif not m.isfile() or is_hidden(m.name) or not is_image_name(m.name):
                quiet += 0 if m.isdir() else 1
            elif m.size > MAX_MEMBER_BYTES:
                skipped.append(_refused(path, m.name, _too_large(m.size)))
            else:
                kept.append(m)
        kept.sort(key=lambda m: m.name)
        self._members = kept
        names = strip_common_root([m.name for m in kept])
        classes, labels = folder_labels(names)
        compressed = isinstance(tar.fileobj, (gzip.GzipFile, bz2.BZ2File, lzma.LZMAFile))
        self.random_access = not compressed
        super().__init__(path, names, classes=classes, labels=labels, skipped=skipped,
                         quiet_skips=quiet,
                         description="compressed tar of images" if compressed else "tar of images")
        self._fingerprint: str | None = None

    def name(self, i: int) -> str:
        return f"{self.path.name}/{self._members[i].name}"

    def open_item(self, i: int) -> BinaryIO:
        try:
            f = self._tar.extractfile(self._members[i])
            data = f.read() if f is not None else b""
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DatasetError(f"{self.name(i)} cannot be read from the tar ({e}).") from None
        return io.BytesIO(data)

    def iter_items(self, indices):
        if self.random_access:
            yield from super().iter_items(indices)
            return
        # One pass through the compressed stream, in archive order: seeking back in it would
        # mean decompressing again from the start.
        wanted = {self._members[i].offset: i for i in indices}
        reason = "the archive ended first"
        try:
            with tarfile.open(self.path, "r|*") as stream:
                for member in stream:
                    i = wanted.pop(member.offset, None)
                    if i is None:
                        continue
                    f = stream.extractfile(member)
                    yield i, io.BytesIO(f.read() if f is not None else b"")
                    if not wanted:
                        break
        except (tarfile.TarError, OSError, EOFError, lzma.LZMAError, zlib.error) as e:
            reason = f"the archive is damaged from there on ({e})"
        for i in wanted.values():
            yield i, DatasetError(f"{self.name(i)} could not be read: {reason}.")

    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_files([self.path], self.format)
        return self._fingerprint

    def close(self) -> None:
        self._tar.close()
