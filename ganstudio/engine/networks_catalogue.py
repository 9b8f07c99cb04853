"""Well-known public pretrained generators (StyleGAN2-ADA, StyleGAN3, BigGAN-deep) by name:
where their publishers serve them, how large they are, their licences, and downloading them
into GAN Studio's cache with the same resumable, mirror-aware downloader as the datasets.

The catalogue is data (``resources/networks.json``). The publishers give no checksums, so a
download is verified by opening it with GAN Studio's own loader, which runs nothing from the
file and refuses anything that is not the network the catalogue names; a file that fails is
deleted and the error says so.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ganstudio.engine.download import CancelCheck, Progress, download_all
from ganstudio.engine.errors import CheckpointError, GanStudioError
from ganstudio.resources import cache_dir, resources_dir


@dataclass(frozen=True)
class NetworkFile:
    name: str
    urls: tuple[str, ...]
    size: int | None  # approximate, for progress only
    sha256: str | None


@dataclass(frozen=True)
class NetworkEntry:
    name: str
    title: str
    family: str
    resolution: int
    dataset: str
    homepage: str
    licence: str
    files: tuple[NetworkFile, ...]
    open: str  # what to open in the download folder: "" for the folder itself

    @property
    def download_bytes(self) -> int:
        return sum(f.size or 0 for f in self.files)


@cache
def networks() -> dict[str, NetworkEntry]:
    """Every network of the catalogue, by name."""
    raw = json.loads((resources_dir() / "networks.json").read_text(encoding="utf-8"))
    return {
        name: NetworkEntry(
            name, d["title"], d["family"], d["resolution"], d["dataset"], d["homepage"],
            d["licence"],
            tuple(NetworkFile(f["name"], tuple(f["urls"]), f.get("size"), f.get("sha256"))
                  for f in d["files"]),
            d.get("open", ""))
        for name, d in raw["networks"].items()
    }


def get_network(name: str) -> NetworkEntry:
    try:
        return networks()[name]
    except KeyError:
        raise CheckpointError(f"No pretrained network called {name!r}; the catalogue has "
                              f"{', '.join(networks())}.") from None


def network_folder(name: str) -> Path:
    return cache_dir() / "networks" / name


def downloaded_path(name: str) -> Path | None:
    """What to open of a network downloaded before, or None when it is not (all) here."""
    entry = get_network(name)
    folder = network_folder(name)
    if not all((folder / f.name).is_file() for f in entry.files):
        return None
    return folder / entry.open if entry.open else folder


def download_network(name: str, *, progress: Progress | None = None,
                     cancel: CancelCheck | None = None, timeout: float = 30.0) -> Path:
    """Download a catalogue network into the cache and check that it opens as what it says;
    the path to open (a file, or a folder for BigGAN)."""
    from ganstudio.engine.formats import load_generator

    entry = get_network(name)
    folder = network_folder(name)
    download_all([(f.urls, f.name, f.sha256, None, f.size) for f in entry.files], folder,
                 progress=progress, cancel=cancel, timeout=timeout)
    target = folder / entry.open if entry.open else folder
    try:
        generator = load_generator(target)
    except GanStudioError as e:
        shutil.rmtree(folder, ignore_errors=True)
        raise CheckpointError(f"The download of {name} does not open as a generator, so it was "
                              f"deleted: {e}") from None
    family = generator.meta.get("family")
    if family != entry.family or generator.shape[-1] != entry.resolution:
        shutil.rmtree(folder, ignore_errors=True)
        raise CheckpointError(
            f"The download of {name} is a {family} network at {generator.shape[-1]} px, not the "
            f"{entry.family} at {entry.resolution} px the catalogue names; it was deleted.")
    return target
