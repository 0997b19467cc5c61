"""The command line: parses arguments, prints, and maps errors to exit codes. Nothing else.

Exit codes: 0 ok; 1 some variants failed, `--check` found stale imagery, or the build could not
run (locked, over budget, stopped by the backend); 2 invalid catalog or usage; 130 interrupted.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
from pathlib import Path

from mockups._version import __version__
from mockups.cli._logging import logging_to
from mockups.cli._output import FAILED, INTERRUPTED, INVALID, OK
from mockups.errors import (
    BuildError,
    CatalogError,
    FatalBackendError,
    MockupsError,
    RemoteCacheError,
    TemplateError,
    UnknownBackend,
)
from mockups.selection import FilterError

logger = logging.getLogger(__name__)


def _shared() -> dict[str, argparse.ArgumentParser]:
    """The options several commands share, each defined once (argparse parents)."""
    catalog = argparse.ArgumentParser(add_help=False)
    catalog.add_argument("catalog", nargs="?", default="catalog.yaml",
                         help="the catalog file (default: ./catalog.yaml); paths in it are relative to its folder")

    selection = argparse.ArgumentParser(add_help=False)
    selection.add_argument("--only", action="append", metavar="KEY=GLOB,...",
                           help="only variants matching, e.g. sku=TEE-*,colour=navy (repeat to add more)")
    selection.add_argument("--shard", metavar="K/N", help="only shard K of N (a stable split for parallel CI jobs)")
    selection.add_argument("--backend", help="override defaults.backend (local, openai, or a plugin)")

    folders = argparse.ArgumentParser(add_help=False)
    folders.add_argument("--build-dir", help="output folder (default: build/ beside the catalog)")
    folders.add_argument("--cache-dir", help="cache folder (default: .mockups-cache/ beside the catalog)")

    logs = argparse.ArgumentParser(add_help=False)
    group = logs.add_argument_group("logging")
    group.add_argument("-v", "--verbose", action="count", default=0,
                       help="say more on stderr: -v what each stage did (INFO), -vv everything (DEBUG)")
    group.add_argument("--log-file", metavar="FILE",
                       help="append a detailed log to FILE (DEBUG, with timestamps and failed variants' tracebacks)")
    remote = argparse.ArgumentParser(add_help=False)
    group = remote.add_argument_group("shared cache")
    group.add_argument("--cache", metavar="URL", default=os.environ.get("MOCKUPS_CACHE") or None,
                       help="a shared cache behind the local one: s3://bucket/prefix, gs://, az://, file://, or "
                            "http(s):// (a Bazel remote cache); default $MOCKUPS_CACHE")
    group.add_argument("--cache-read-only", action="store_true",
                       help="read the shared cache, never write it (pull requests from forks)")
    return {"catalog": catalog, "selection": selection, "folders": folders, "logs": logs, "remote": remote}


def _bounded(kind, low, *, above: bool = False):
    """An argparse type: a number of `kind` at least `low` (with `above`, greater than it), so that
    `-j -2` (no worker started) or `--rpm -5` (every variant failed) is a usage error."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a whole number' if kind is int else 'a number'}, "
                                             f"got {text!r}") from None
        if not (value > low if above else value >= low):  # NaN is neither
            raise argparse.ArgumentTypeError(f"expected a number above {low:g}, got {text}" if above
                                             else f"expected at least {low}, got {text}")
        return value
    return parse


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="mockups", description="Turn a YAML product catalog into product imagery.")
    top.add_argument("--version", action="version", version=f"mockups {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    shared = _shared()
    catalog, selection, folders, logs, remote = (shared[k] for k in ("catalog", "selection", "folders", "logs",
                                                                     "remote"))

    p = sub.add_parser("validate", help="check the catalog and report every problem", parents=[catalog, logs])
    p.add_argument("--backend", help="also check the requests of this backend")

    p = sub.add_parser("plan", help="show the variants, what is new or changed, and the estimated cost",
                       parents=[catalog, selection, folders, remote, logs])
    p.add_argument("--json", action="store_true", help="print the plan as JSON")
    p.add_argument("--batch", action="store_true", help="estimate at the Batch API's price (as `build --batch`)")
    p.add_argument("--force", action="store_true", help=argparse.SUPPRESS)

    p = sub.add_parser("build", help="make every stale variant, the contact sheets and the gallery",
                       parents=[catalog, selection, folders, remote, logs])
    p.add_argument("--check", action="store_true",
                   help="make nothing: exit 1 if any output is missing or out of date (for CI)")
    p.add_argument("--approvals", action="store_true",
                   help="with --check: also exit 1 when an output is not approved in approvals.yaml")
    p.add_argument("--force", action="store_true", help="rebuild every selected variant regardless of the cache")
    p.add_argument("-j", "--jobs", type=_bounded(int, 1), metavar="N",
                   help="workers (default: one per core for local)")
    p.add_argument("--fail-fast", action="store_true", help="stop at the first failed variant")
    p.add_argument("--max-cost", type=_bounded(float, 0), metavar="USD", help="refuse to spend more than this")
    p.add_argument("--rpm", type=_bounded(float, 0, above=True), metavar="N",
                   help="at most N backend requests per minute")
    p.add_argument("--retries", type=_bounded(int, 0), default=3, metavar="N",
                   help="retries for transient errors (default 3)")
    p.add_argument("--summary", metavar="FILE", help="write a Markdown summary (e.g. $GITHUB_STEP_SUMMARY)")
    p.add_argument("--no-gallery", action="store_true", help="skip the HTML gallery")
    p.add_argument("--no-inspect", action="store_true",
                   help="skip the products' overlays (build/inspect/<SKU>.png, as `mockups inspect` draws them)")
    p.add_argument("--executor", choices=("processes", "dask"), default="processes",
                   help="where the local compositor's work runs: worker processes here (default) or a Dask cluster "
                        "(pip install 'mockups[dask]')")
    p.add_argument("--scheduler", metavar="ADDRESS",
                   help="with --executor dask: the scheduler (default $DASK_SCHEDULER_ADDRESS, else a LocalCluster)")
    p.add_argument("--batch", action="store_true",
                   help="send the AI edits to OpenAI's Batch API (half price, within 24 h): exits 3 while batches "
                        "are pending; run the same command again to collect them")

    sub.add_parser("gallery", help="rebuild the HTML gallery from the last build's manifest",
                   parents=[catalog, folders, logs])

    review = argparse.ArgumentParser(add_help=False)
    review.add_argument("--by", metavar="WHO", help="who decides (default: git's user.name <user.email>)")
    p = sub.add_parser("approve", help="approve the current outputs of the selected variants (default: every "
                                       "pending one) in approvals.yaml",
                       parents=[catalog, selection, folders, review, logs])
    p.add_argument("--note", help="a note kept with each decision")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="merge the decisions a gallery exported (approve and reject) instead")
    p = sub.add_parser("reject", help="reject the current outputs of the selected variants, with a note",
                       parents=[catalog, selection, folders, review, logs])
    p.add_argument("--note", help="why (required)")
    p = sub.add_parser("serve", help="show the gallery on this machine, rebuilt as the project changes, and write "
                                     "review decisions to approvals.yaml",
                       parents=[catalog, selection, folders, review, logs])
    p.add_argument("--port", type=int, default=8000, help="the port (default 8000; 0: any free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="the address to listen on (default 127.0.0.1, this machine only)")
    p = sub.add_parser("publish", help="copy the approved outputs (and a manifest of them) into a folder",
                       parents=[catalog, selection, folders, logs])
    p.add_argument("--to", required=True, metavar="DIR", help="the folder to publish into")

    p = sub.add_parser("inspect", help="draw what the tool sees in each product photo: silhouette, dyeable area, "
                                       "print area, and how sure it is", parents=[catalog, selection, folders, logs])
    p.add_argument("--out", metavar="DIR", help="write the overlays into DIR (default: build/inspect/)")
    p.add_argument("--force", action="store_true", help="redraw every overlay, even those whose inputs are unchanged")

    p = sub.add_parser("batch", help="the OpenAI batches `build --batch` submitted: status, cancel")
    batch = p.add_subparsers(dest="batch_command", required=True, metavar="ACTION")
    batch.add_parser("status", help="each batch's state and how many of its requests finished",
                     parents=[catalog, folders, logs])
    p = batch.add_parser("cancel", help="cancel the pending batches (what finished is collected by the next build)",
                         parents=[catalog, folders, logs])
    p.add_argument("--id", action="append", metavar="BATCH", help="only this batch (repeat for more)")

    p = sub.add_parser("import", help="write a catalog from a store's product export, its photos into assets/ "
                                      "(again: adds what is new, keeps your edits)", parents=[logs])
    p.add_argument("store", choices=["shopify", "woocommerce", "merchant"], help="whose export FILE is")
    p.add_argument("file", metavar="FILE", help="the product CSV, or a Merchant Center feed (TSV or XML)")
    p.add_argument("--out", metavar="DIR", help="the project folder (default: the current one)")
    p.add_argument("--colours", metavar="FILE", help="colour names to hexes (YAML: 'Heather Navy: \"#2C3446\"')")
    store = argparse.ArgumentParser(add_help=False)  # before the catalog: `mockups export shopify [CATALOG]`
    store.add_argument("store", choices=["shopify", "merchant"], help="which store's file to write")
    p = sub.add_parser("export", help="write the store's file with each variant's image at the URL its output is "
                                      "published at", parents=[store, catalog, folders, logs])
    p.add_argument("--base-url", required=True, metavar="URL",
                   help="where the outputs are served: URL + an output's path (build/ or --published DIR)")
    p.add_argument("--out", metavar="FILE", help="the file to write (default: shopify-products.csv or "
                                                 "merchant-feed.tsv; .xml writes an RSS feed)")
    p.add_argument("--from", dest="from_file", metavar="FILE",
                   help="the store's own export: only its image columns change (in place unless --out)")
    p.add_argument("--channel", help="the channel whose outputs go to the store (default: the first built)")
    p.add_argument("--published", metavar="DIR", help="export what `mockups publish --to DIR` published")

    p = sub.add_parser("clean", help="delete cache objects that no manifest refers to",
                       parents=[catalog, folders, logs])
    p.add_argument("--dry-run", action="store_true", help="only say what would be deleted")

    p = sub.add_parser("schema", help="print the catalog's JSON Schema (for editors)")
    p.add_argument("-o", "--output", help="write to this file instead of printing")

    p = sub.add_parser("init", help="write a starter catalog, templates and sample assets into a folder")
    p.add_argument("folder", nargs="?", default=".", help="an empty folder (default: the current one)")
    return top


_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/@\s]*@")


def _shown_args(argv: list[str]) -> list[str]:
    """The command line as the log shows it: a URL's user and password (`--cache https://u:p@...`) left out."""
    return [_USERINFO.sub(r"\1", a) for a in argv]


def main(argv: list[str] | None = None) -> int:
    cli = parser()
    args = cli.parse_args(argv)
    if getattr(args, "approvals", False) and not getattr(args, "check", False):
        cli.error("--approvals goes with --check (mockups build --check --approvals): alone it would be ignored")

    code = None
    try:
        with logging_to(getattr(args, "verbose", 0), getattr(args, "log_file", None)):
            logger.debug("mockups %s: %s", __version__, " ".join(_shown_args(sys.argv[1:] if argv is None else argv)))
            try:
                code = run(args)
                sys.stdout.flush()  # a reader that went away shows here, not in the interpreter's flush at exit
            except BaseException as e:  # the log keeps the traceback of what the console reports in a line
                logger.debug("%s: %s", args.command, type(e).__name__, exc_info=not isinstance(e, BrokenPipeError))
                raise
        return code
    except BrokenPipeError:  # `mockups plan --json | head -1`: the reader has what it wanted; not an error
        _drop_stdout()
        if code is not None:
            return code
        return FAILED if args.command == "build" else OK  # a build (or --check) cut short vouches for nothing
    except (CatalogError, TemplateError) as e:
        print(_bad(e), file=sys.stderr)
        return INVALID
    except (FilterError, UnknownBackend, RemoteCacheError) as e:
        for line in str(e).splitlines():  # one line per --only that selects nothing
            print(f"mockups: error: {line}", file=sys.stderr)
        return INVALID
    except FatalBackendError as e:
        print(f"mockups: the backend stopped the build: {e}", file=sys.stderr)
        return FAILED
    except BuildError as e:
        print(f"mockups: {e}", file=sys.stderr)
        return FAILED
    except MockupsError as e:
        print(f"mockups: error: {e}", file=sys.stderr)
        return FAILED
    except OSError as e:  # a full disk or a read-only folder while writing the summary or the schema
        print(f"mockups: error: {e.strerror or e}" + (f": {e.filename}" if e.filename else ""), file=sys.stderr)
        return FAILED
    except KeyboardInterrupt:
        print("mockups: interrupted; finished variants are kept, run the build again to go on", file=sys.stderr)
        return INTERRUPTED


def run(args) -> int:
    """Carry out the parsed command. A build that the last build's record shows to be a no-op is
    answered from it (`cli._quick`); every other command imports the library as it needs it."""
    if args.command == "build":
        from mockups.cli._quick import quick_build

        code = quick_build(args)
        if code is not None:
            return code
    from mockups.cli import commands

    return getattr(commands, f"cmd_{args.command}")(args)


def _drop_stdout() -> None:
    """Point stdout at /dev/null, so what is left in its buffer has somewhere to go at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError) as e:  # stdout is not a file descriptor (captured in tests)
        logger.debug("stdout left as it is: %s", e)


def _bad(e: Exception) -> str:
    if isinstance(e, CatalogError):
        n = sum(1 for p in e.problems if p.severity == "error")
        return f"{e}\n{n} problem{'s' if n != 1 else ''} found"
    return str(e)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())


__all__ = ["main", "parser", "Path"]
