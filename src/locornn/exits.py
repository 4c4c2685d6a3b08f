"""Exit codes of the command line: expected failures become one clear line, never a traceback.

Shared by :mod:`locornn.cli` and the commands other modules add to it
(:mod:`locornn.reproduce.figures`), so that neither imports the other for it."""

from __future__ import annotations

import sys


def guarded(action, *errors: type[Exception]) -> int:
    """Run ``action()`` and turn the expected failures into exit codes with a clear message:
    2 for a bad config, a missing/invalid input (and ``errors``), a run on other data than it
    was trained on, a run none of whose checkpoints restores, a run another process is
    training, or a path that cannot be written (read-only, full disk), 3 for a NaN/Inf loss,
    130 for an interrupt (the checkpoint is already saved). Returns ``action()``'s own exit
    status when it gives one (an int), else 0.

    :func:`locornn.cli.main` runs every command through it, so each command has this one error
    path; the failures it catches are raised before the command writes anything."""
    from locornn import configs, train
    from locornn.checkpoints import CheckpointError
    from locornn.data.errors import DataError

    try:
        status = action()
    except configs.ConfigError as error:
        print(f"locornn: config error: {error}", file=sys.stderr)
        return 2
    except (FileNotFoundError, DataError, CheckpointError, train.RunInUseError,
            *errors) as error:
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
    return status if isinstance(status, int) else 0
