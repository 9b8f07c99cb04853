"""The standard datasets GAN Studio knows by name: where to download them, and where a system
package may have installed them already.

The catalogue is data (``resources/datasets.json``): each set's publisher's address first,
then well-known mirrors, and every file's checksum. Debian's ``dataset-fashion-mnist``
package, for one, installs Fashion-MNIST under ``/usr/share/datasets/fashion-mnist``; such a
set is listed as installed and opened from there, with no download.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ganstudio.engine.errors import DatasetError
from ganstudio.resources import cache_dir, resources_dir


@dataclass(frozen=True)
class CatalogueFile:
    name: str
    size: int | None  # for progress only
    sha256: str | None
    md5: str | None


@dataclass(frozen=True)
class CatalogueEntry:
    name: str
    title: str
    description: str
    homepage: str
    licence: str
    mirrors: tuple[str, ...]
    files: tuple[CatalogueFile, ...]
    open: str  # what to open in the download folder: "" for the folder itself
    installed: tuple[str, ...]  # where system packages put the same files

    def urls(self, file: CatalogueFile) -> list[str]:
        return [mirror + file.name for mirror in self.mirrors]

    @property
    def download_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)


@cache
def catalogue() -> dict[str, CatalogueEntry]:
    """Every set in the catalogue, by name."""
    raw = json.loads((resources_dir() / "datasets.json").read_text(encoding="utf-8"))
    out = {}
    for name, d in raw["datasets"].items():
        out[name] = CatalogueEntry(
            name, d["title"], d["description"], d["homepage"], d["licence"],
            tuple(d["mirrors"]),
            tuple(CatalogueFile(f["name"], f.get("size"), f.get("sha256"), f.get("md5"))
                  for f in d["files"]),
            d.get("open", ""), tuple(d.get("installed", ())),
        )
    return out


def get_entry(name: str) -> CatalogueEntry:
    try:
        return catalogue()[name]
    except KeyError:
        raise DatasetError(
            f"Unknown dataset {name!r}; the catalogue has {', '.join(catalogue())}."
        ) from None


def download_folder(name: str) -> Path:
    """Where the files of a catalogue set are downloaded to."""
    return cache_dir() / "downloads" / name


def installed_path(entry: CatalogueEntry) -> Path | None:
    """The folder a system package installed the set in, when every file is there."""
    for where in entry.installed:
        folder = Path(where)
        if all((folder / f.name).is_file() for f in entry.files):
            return folder
    return None


def downloaded_path(entry: CatalogueEntry) -> Path | None:
    """What to open for a downloaded set, when every file has been downloaded."""
    folder = download_folder(entry.name)
    if all((folder / f.name).is_file() for f in entry.files):
        return folder / entry.open if entry.open else folder
    return None


def resolve_source(text: str) -> Path:
    """A path as given, or a catalogue name: its installed copy, else its downloaded one."""
    path = Path(text).expanduser()
    if path.exists() or text not in catalogue():
        return path
    entry = catalogue()[text]
    found = installed_path(entry) or downloaded_path(entry)
    if found is None:
        raise DatasetError(
            f"{entry.title} is not on this machine yet; run 'ganstudio data download {text}' "
            "first."
        )
    return found
