"""Typed errors with messages meant for people: they name the file or value and what to do."""


class GanStudioError(Exception):
    """Base class of every error GAN Studio reports to a user."""


class ConfigError(GanStudioError, ValueError):
    """A setting has a value that cannot work."""


class DatasetError(GanStudioError):
    """A dataset could not be found, read or built."""


class CheckpointError(GanStudioError):
    """A checkpoint file could not be read, or was refused as unsafe."""


class RunFolderError(GanStudioError):
    """A run folder is missing or is not in the expected layout."""


class Cancelled(GanStudioError):
    """Long work (preparing a dataset, a download) stopped because the user asked it to."""


class WeightsMissingError(GanStudioError):
    """Pretrained weights a feature space needs (FID's Inception-v3) are not on this computer."""


class OutputError(GanStudioError):
    """A file cannot be written where asked: the path is a folder, a device, a link, or a file
    that was not meant to be replaced."""


class ImageError(GanStudioError, ValueError):
    """An image file could not be read, or was refused (a decompression bomb)."""


class DiskFullError(GanStudioError):
    """A write failed because the disk (or the user's quota) is full."""


def printable(text: str) -> str:
    """``text`` with the undecodable bytes of a file name (lone surrogates) shown as ``\\xNN``.

    Python decodes a non-UTF-8 file name into lone surrogates; printing those, or handing them
    to Qt, fails.
    """
    return "".join(_printable_char(c) for c in text)


def _printable_char(c: str) -> str:
    code = ord(c)
    if 0xDC80 <= code <= 0xDCFF:
        return f"\\x{code - 0xDC00:02x}"
    if 0xD800 <= code <= 0xDFFF:  # any other lone surrogate, e.g. from a JSON string
        return f"\\u{code:04x}"
    return c


def first_line(error: BaseException, limit: int = 160) -> str:
    """The first line of an exception's message (its type when it has none), for one-line
    errors that quote what a library said."""
    lines = str(error).strip().splitlines()
    return lines[0][:limit] if lines else type(error).__name__
