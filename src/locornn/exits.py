"""Exit codes of the command line: expected failures become one clear line, never a traceback.

Shared by :mod:`locornn.cli` and the commands other modules add to it
(:mod:`locornn.reproduce.figures`), so that neither imports the other for it."""

from __future__ import annotations

import sys


def guarded(action, *errors: type[Exception]) -> int:
    """Run ``action()`` and turn the expected failures into exit codes with a clear message:
    2 for a bad config, a missing/invalid input (and ``errors``) or a path that cannot be
    written (read-only, full disk), 3 for a NaN/Inf loss, 130 for an interrupt (the checkpoint
    is already saved)."""
    from locornn import configs, train
    from locornn.data.errors import DataError

    try:
        action()
    except configs.ConfigError as error:
        print(f"locornn: config error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, DataError, *errors) as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 2
    except OSError as error:  # a read-only or full disk, a path that is a file: say which
        print(f"locornn: cannot write or read {error.filename or ''}: "
              f"{error.strerror or error}", file=sys.stderr)
        return 2
    except train.NonFiniteLossError as error:
        print(f"locornn: {error}", file=sys.stderr)
        return 3
    except KeyboardInterrupt:
        return 130
    return 0
