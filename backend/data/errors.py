"""The one error of the data package: its message says what to fix."""


class DataError(ValueError):
    """Bad data or a bad data request."""
