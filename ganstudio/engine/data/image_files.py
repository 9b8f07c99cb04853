"""Reading one image file safely, whatever folder or archive it came from.

Pillow reads the file; this module adds what a dataset of strangers' files needs: a pixel limit
that turns a decompression bomb into a clear error (Pillow only warns below twice its limit), a
cheap test for files cut short that needs no decoding, the first frame of an animation, and
every mode (palette, 16-bit, alpha, CMYK …) brought to 8-bit grey or RGB.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import BinaryIO

import numpy as np
from PIL import Image, UnidentifiedImageError

from ganstudio.engine.errors import DatasetError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".webp", ".bmp", ".dib", ".tif", ".tiff", ".gif"}
)
# Modes that are grey already: a set of them is prepared as one channel.
GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_TAIL = 4096  # bytes searched for a JPEG's or PNG's closing marker
_BACKGROUND = 255  # transparent pixels become white

# Called with the still undecoded image, before its pixels are read: prepare uses it to ask
# JPEG for a reduced-size decode (Image.draft).
DraftHook = Callable[[Image.Image], None]


def is_image_name(name: str) -> bool:
    dot = name.rfind(".")
    return dot >= 0 and name[dot:].lower() in IMAGE_SUFFIXES


def open_image(fp: BinaryIO, name: str) -> Image.Image:
    """The image's header, not yet decoded; a decompression bomb raises DatasetError."""
    limit = Image.MAX_IMAGE_PIXELS
    with warnings.catch_warnings():
        # Pillow only warns between its limit and twice it; here the limit is the limit.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(fp)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise DatasetError(
                f"{name} was refused: it claims more than {limit:,} pixels, which is how a "
                "decompression bomb fills the memory. Resize it, or leave it out of the set."
            ) from None
        except UnidentifiedImageError:
            raise DatasetError(f"{name} is not an image file Pillow can read.") from None
        except Exception as e:  # a damaged or hostile file can trip a plugin anywhere
            raise DatasetError(f"{name} is damaged ({_reason(e)}).") from None
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # the first frame of a GIF, a multi-page TIFF, an animated WebP
    return image


def check_complete(fp: BinaryIO, image: Image.Image, name: str) -> None:
    """Raise DatasetError for a JPEG or PNG whose end is missing, without decoding it.

    A JPEG ends with its EOI marker (FF D9) and a PNG with its IEND chunk. Inside a JPEG's
    entropy-coded data every FF byte is followed by 00, so FF D9 cannot appear by chance; a few
    encoders pad after the end, hence the search over the last few kilobytes.
    """
    marker = {"JPEG": b"\xff\xd9", "MPO": b"\xff\xd9", "PNG": b"IEND"}.get(image.format or "")
    if marker is None:
        return
    fp.seek(0, 2)
    size = fp.tell()
    fp.seek(max(0, size - _TAIL))
    if marker not in fp.read():
        raise DatasetError(f"{name} is cut short: its {image.format} end marker is missing.")


def probe(fp: BinaryIO, name: str) -> tuple[int, int, str]:
    """(width, height, mode) from the header, after the bomb and cut-short checks."""
    image = open_image(fp, name)
    check_complete(fp, image, name)
    return image.width, image.height, image.mode


def decode(fp: BinaryIO, name: str, draft: DraftHook | None = None) -> Image.Image:
    """The fully decoded first frame; DatasetError names the file when it cannot be read."""
    image = open_image(fp, name)
    if draft is not None:
        draft(image)
    try:
        image.load()
    except Exception as e:  # as in open_image: one bad file must not stop a set
        raise DatasetError(f"{name} is damaged or cut short ({_reason(e)}).") from None
    return image


def to_pixels(image: Image.Image, grayscale: bool) -> Image.Image:
    """The image as 8-bit ``L`` (grayscale) or ``RGB``; alpha is flattened onto white."""
    mode = image.mode
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        image = Image.fromarray(_eight_bit(np.asarray(image)))
    elif mode == "1":
        image = image.convert("L")
    elif mode in ("P", "PA"):
        has_alpha = mode == "PA" or "transparency" in image.info
        image = image.convert("RGBA" if has_alpha else "RGB")
    if image.mode in ("RGBA", "LA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (_BACKGROUND,) * 3 + (255,))
        image = Image.alpha_composite(backdrop, rgba)
    target = "L" if grayscale else "RGB"
    return image if image.mode == target else image.convert(target)


def _eight_bit(values: np.ndarray) -> np.ndarray:
    """16-bit or float grey levels → uint8: 16-bit scaled by 1/257, floats in [0, 1] by 255."""
    if values.dtype.kind == "f":
        finite = np.nan_to_num(values.astype(np.float64))
        scale = 255.0 if finite.size and finite.max() <= 1.0 else 1.0
        return np.clip(np.rint(finite * scale), 0, 255).astype(np.uint8)
    wide = values.astype(np.int64)
    if wide.size and wide.max() > 255:
        wide = (wide + 128) // 257
    return np.clip(wide, 0, 255).astype(np.uint8)


def _reason(e: BaseException) -> str:
    text = " ".join(str(e).split())
    return text or type(e).__name__
