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
