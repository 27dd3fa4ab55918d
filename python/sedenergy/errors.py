"""The package's exceptions."""


class SedenergyError(Exception):
    """A measurement, file or option error; the message says what and where."""


class LibraryNotFound(SedenergyError, ImportError):
    """libsedenergy could not be loaded; the message lists the paths tried and how to point to it."""
