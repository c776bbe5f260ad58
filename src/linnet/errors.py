"""linnet's own error types: every failure a user can cause ends in one of these.

The CLI turns a `LinnetError` into one line on stderr and exit code 2, so the message must say
what was expected, what was found, and where (the file, the flag).
"""


class LinnetError(Exception):
    """Base class: a problem with the user's input, files or environment (not a bug in linnet)."""


class IDXError(LinnetError, ValueError):
    """An IDX file is malformed; the message names the file and the problem."""


class DataError(LinnetError, ValueError):
    """A dataset is inconsistent (counts disagree, labels out of range) or unknown."""


class DownloadError(LinnetError, OSError):
    """No mirror delivered a verified file; the message lists every mirror tried."""


class ConfigError(LinnetError, ValueError):
    """A setting is out of range: "The 'lr' parameter must be a float in (0, inf). Got -0.1." """


class NotSupported(LinnetError, AttributeError):
    """A name of the d2l book's library that has no meaning in linnet; the message says what to use.

    An AttributeError too, so hasattr() answers False and tools that probe names are not broken.
    """


class TrainingDiverged(LinnetError):
    """The loss became NaN or infinite; the message says where, with what lr, and what to try."""


class RunInterrupted(Exception):
    """Training was stopped by a signal; the run directory holds the last complete epoch, its figures and report."""

    SIGNALS = {"KeyboardInterrupt": "Ctrl-C", "Terminated": "SIGTERM"}

    def __init__(self, run_dir, completed: int, signal_name: str, total: int | None = None,
                 resumable: bool = True) -> None:
        of = f" of {total}" if total is not None else ""
        where = f"after epoch {completed}{of}" if completed else f"before epoch 1{of} was complete"
        kept = "its completed epochs, figures and report" if completed else "its starting point"
        then = (f"Continue with: linnet train --resume {run_dir}" if resumable else
                "L-BFGS solves in one go: start the run again")
        super().__init__(f"training stopped {where} ({self.SIGNALS.get(signal_name, signal_name)}); {run_dir} keeps "
                         f"{kept}. {then}")
        self.run_dir, self.completed, self.signal_name, self.total = run_dir, completed, signal_name, total
