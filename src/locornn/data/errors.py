"""The one exception data loaders raise for input a user must fix (corrupt or malformed files).

A subclass of ``ValueError``; the command line turns it into one line on stderr and exit status
2 (:func:`locornn.exits.guarded`), never a traceback.
"""


class DataError(ValueError):
    """A data file that is corrupt, truncated or not in the expected format."""
