"""The command line: the only package that prints and picks exit codes.

`_main` parses arguments and maps typed errors to exit codes; `commands` carries each command
out through the library API. May import anything of ours.
"""

from mockups.cli._main import FAILED, INTERRUPTED, INVALID, OK, main, parser

__all__ = ["FAILED", "INTERRUPTED", "INVALID", "OK", "main", "parser"]
