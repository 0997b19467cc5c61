"""Exit codes and machine-readable output, shared by the argument parser and the commands."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path

OK, FAILED, INVALID, INTERRUPTED = 0, 1, 2, 130
PENDING = 3  # build --batch: some variants are in batches that have not finished


def print_json(data) -> None:
    json.dump(data, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")


def shown(path) -> str:
    """A path relative to the current folder when it is inside it, else as it is."""
    path = Path(path)
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return str(path)


def summary_line(*, variants: int, unchanged: int, placed: int, built: int, failed: int, skipped: int,
                 removed: int, seconds: float, spent: float, fetched: int = 0) -> str:
    """The line a build ends with (the full path's and the no-op's)."""
    not_started = f", {skipped} not started" if skipped else ""
    shared = f" ({fetched} from the shared cache)" if fetched else ""
    return (f"Done: {variants} variants ({unchanged} unchanged, {placed} from cache{shared}, {built} made, "
            f"{failed} failed{not_started}, {removed} removed) in {seconds:.2f} s; cost ${spent:.2f}")


def report_line(report) -> str:
    """`summary_line` of a BuildReport."""
    counts = report.prepared.plan.counts()
    return summary_line(variants=len(report.prepared.plan.items), unchanged=counts["unchanged"],
                        placed=report.placed, built=report.built, failed=len(report.failures),
                        skipped=report.skipped, removed=counts["removed"], seconds=report.seconds,
                        spent=report.spent, fetched=report.fetched)


def markdown_summary(line: str, counts: dict[str, int], *, changed: Sequence[str] = (), failed: Sequence[str] = (),
                     removed: Sequence[str] = (), output_warnings: Sequence[tuple[str, int]] = (),
                     warnings: Sequence[str] = ()) -> str:
    """The Markdown a build writes for `--summary`: its line, the counts, what changed, failed and
    was removed (lines already formatted), and the warnings, those of outputs as (text, variants)."""
    lines = ["## mockups build", "", line, "", "| status | variants |", "|---|---:|"]
    lines += [f"| {k} | {n} |" for k, n in counts.items() if n]
    for title, items in (("Changed", changed), ("Failed", failed), ("Removed", removed)):
        if items:
            lines += ["", f"### {title}", ""] + _listed(items)
    if output_warnings or warnings:
        lines += ["", "### Warnings", "", "| warning | variants |", "|---|---:|"]
        lines += [f"| {_cell(text)} | {n} |" for text, n in output_warnings]
        lines += [f"| {_cell(text)} | — |" for text in warnings]  # the catalog's: not per variant
    return "\n".join(lines) + "\n"


def check_markdown(stale: list[str], total: int) -> str:
    """The Markdown of `build --check`: how many outputs are out of date, and which (formatted)."""
    lines = ["## mockups build --check", "", f"{len(stale)} of {total} outputs out of date", ""]
    lines += _listed(stale, 500)
    return "\n".join(lines) + "\n"


SUMMARY_ITEMS = 200  # a list's lines in a summary: a CI job summary takes at most 1 MiB


def _listed(items: Sequence[str], most: int = SUMMARY_ITEMS) -> list[str]:
    """Markdown list lines, each item on one line, at most `most` of them and then how many more."""
    lines = [f"- {' '.join(str(text).split())}" for text in items[:most]]
    if len(items) > most:
        lines.append(f"- ... and {len(items) - most:,} more")
    return lines


def warning_cell(file: str | None, message: str) -> str:
    """An output's warning as the summary's table shows it: the file it is about, then the message."""
    return (f"`{file}`: " if file else "") + message


def _cell(text: str) -> str:
    """Text for one cell of a Markdown table."""
    return " ".join(text.split()).replace("|", "\\|")
