"""The command line's logging (the library only logs; this is the one place handlers are added).

`-v` shows INFO records on stderr, `-vv` DEBUG, one line each (a failed variant's traceback stays
out of the console: its one-line reason is already printed). `--log-file FILE` appends every
record (DEBUG), with timestamps and tracebacks. Handlers go on the `mockups` logger only, so other
libraries' debug output (an HTTP client's) never reaches the file, and the values of secret-looking
environment variables (OPENAI_API_KEY...) are masked in anything written.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from typing import Iterator

from mockups._files import SECRET_NAMES

CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(processName)s/%(threadName)s]: %(message)s"


def _secrets() -> list[str]:
    """Values of environment variables that look like credentials, longest first."""
    found = {v for k, v in os.environ.items() if SECRET_NAMES.search(k) and len(v) >= 8}
    return sorted(found, key=len, reverse=True)


class _Formatter(logging.Formatter):
    def __init__(self, fmt: str, *, tracebacks: bool, secrets: list[str]):
        super().__init__(fmt)
        self.tracebacks, self.secrets = tracebacks, secrets

    def format(self, record: logging.LogRecord) -> str:
        if not self.tracebacks and (record.exc_info or record.exc_text or record.stack_info):
            record = logging.makeLogRecord(record.__dict__)  # a copy: the file's handler still sees them
            record.exc_info = record.exc_text = record.stack_info = None
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "[redacted]")
        return text


@contextlib.contextmanager
def logging_to(verbose: int = 0, log_file: str | None = None) -> Iterator[None]:
    """Log to stderr (`verbose` 1: INFO, 2 or more: DEBUG) and/or a file (DEBUG) while inside."""
    logger = logging.getLogger("mockups")
    secrets = _secrets()
    handlers: list[logging.Handler] = []
    if log_file:  # first: a file that cannot be opened is an OSError before anything else is set up
        file_handler = logging.FileHandler(log_file, encoding="utf-8")
        file_handler.setLevel(logging.DEBUG)
        file_handler.setFormatter(_Formatter(FILE_FORMAT, tracebacks=True, secrets=secrets))
        handlers.append(file_handler)
    if verbose:
        console = logging.StreamHandler(sys.stderr)
        console.setLevel(logging.INFO if verbose == 1 else logging.DEBUG)
        console.setFormatter(_Formatter(CONSOLE_FORMAT, tracebacks=False, secrets=secrets))
        handlers.append(console)
    if not handlers:
        yield
        return
    old_level = logger.level
    logger.setLevel(min(h.level for h in handlers))
    for h in handlers:
        logger.addHandler(h)
    try:
        yield
    finally:
        for h in handlers:
            logger.removeHandler(h)
            h.close()
        logger.setLevel(old_level)
