"""The error tree. Library code raises these; only the CLI prints them and picks exit codes."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field


def did_you_mean(word: str, choices) -> str:
    """" (did you mean 'x'?)" for the closest of `choices` to what the user wrote, or "". Case is
    ignored in the comparison ('WEBP' finds 'webp', 'tee-classic' finds 'TEE-CLASSIC'); the
    suggestion is spelt as the choice is."""
    word = str(word)
    folded: dict[str, str] = {}
    for c in map(str, choices):
        if c != word:
            folded.setdefault(c.casefold(), c)
    close = difflib.get_close_matches(word.casefold(), list(folded), n=1, cutoff=0.6)
    return f" (did you mean '{folded[close[0]]}'?)" if close else ""


class MockupsError(Exception):
    """Root of every error this library raises on purpose."""


@dataclass(frozen=True, order=True)
class Problem:
    """One problem in a user's file, addressed to where they wrote it."""

    file: str
    line: int
    column: int
    path: str
    message: str
    severity: str = field(default="error", compare=False)

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        prefix = f"{where}: " + (f"{self.path}: " if self.path else "")
        tag = "warning: " if self.severity == "warning" else ""
        return prefix + tag + self.message


class CatalogError(MockupsError):
    """The catalog is invalid. Carries every problem found, sorted by position."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class TemplateError(MockupsError):
    """A prompt or gallery template failed to load or render."""


class BackendError(MockupsError):
    """A backend could not produce a variant. `transient` errors may be retried."""

    transient = False

    def __init__(self, message: str, *, variant: str | None = None):
        self.variant = variant
        super().__init__(message)


class TransientBackendError(BackendError):
    """Worth retrying later: rate limited, server error, connection reset."""

    transient = True

    def __init__(self, message: str, *, variant: str | None = None, retry_after: float | None = None):
        super().__init__(message, variant=variant)
        self.retry_after = retry_after


class FatalBackendError(BackendError):
    """Retrying cannot help and no other variant will succeed: stop the whole build."""


class ImageInputError(BackendError):
    """An input image is unreadable, too large, or unusable for this variant."""


class BuildError(MockupsError):
    """The build could not run (locked, over budget, disk full)."""


class BudgetExceeded(BuildError):
    """The plan's estimated cost is over --max-cost."""


class BuildLocked(BuildError):
    """Another build of the same project is running."""


class UnknownBackend(MockupsError):
    """A backend name that is neither built in nor a plugin's, or one that cannot be loaded."""


class RemoteCacheError(MockupsError):
    """A remote cache URL that cannot be used at all (an unknown scheme, a package it needs is
    missing): a usage error. A remote that fails during a build is only a warning."""


class MemoMismatch(BuildError):
    """A prompt, job key or manifest text reused from the last build differs from the one computed
    in full. Only checked when MOCKUPS_VERIFY_MEMO is set (the tests set it): a bug in the plan
    memo (engine.planmemo) or the manifest writer, never a problem of the catalog."""
