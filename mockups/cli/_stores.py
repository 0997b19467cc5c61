"""`mockups import` and `mockups export` (part of the command-line layer: it prints).

Import exits 1 when something did not come across (a photo that could not be fetched, a colour
no source resolves, a product left out), 2 for an unreadable export or --colours file.
"""

from __future__ import annotations

import sys

from mockups.cli._output import FAILED, INVALID, OK, shown
from mockups.stores import StoreFileError
from mockups.stores.exporter import export_store
from mockups.stores.importer import ImportReport, import_store


def _section(title: str, lines: list[str], *, most: int = 50) -> None:
    if not lines:
        return
    print(f"{title} ({len(lines)}):", file=sys.stderr)
    for line in lines[:most]:
        print(f"  {line}", file=sys.stderr)
    if len(lines) > most:
        print(f"  ... and {len(lines) - most} more", file=sys.stderr)


def _print_import(r: ImportReport, source: str) -> None:
    state = "written" if r.created else "updated" if r.written else "unchanged"
    print(f"imported {r.products} products and {r.colours} colours from {source}: {shown(r.catalog)} {state}; "
          f"{r.downloaded} photos fetched")
    print("colours:")
    for line in r.colour_sources:
        print(f"  {line}")
    for title, lines in (("changed", r.changes), ("kept", r.kept)):
        if lines:
            print(f"{title}:")
            for line in lines:
                print(f"  {line}")
    _section("photos that could not be fetched", r.failed)
    _section("colours not resolved (left out)", r.unresolved)
    _section("products left out", r.left_out)
    _section("not mapped", r.notes)
    if r.created:
        print("next: give products with designs a print area (mockups serve), then mockups build")


def cmd_import(args) -> int:
    try:
        report = import_store(args.store, args.file, args.out, colours=args.colours)
    except StoreFileError as e:
        print(f"mockups: error: {e}", file=sys.stderr)
        return INVALID
    _print_import(report, args.file)
    return FAILED if report.failed or report.unresolved or report.left_out else OK


def cmd_export(args) -> int:
    try:
        r = export_store(args.store, args.catalog, base_url=args.base_url, out=args.out, from_file=args.from_file,
                         channel=args.channel, published=args.published, build_dir=args.build_dir)
    except StoreFileError as e:
        print(f"mockups: error: {e}", file=sys.stderr)
        return INVALID
    print(f"wrote {shown(r.out)}: {r.images} images of {len(r.variants)} built variants (channel {r.channel}), "
          f"{r.rows} rows{' changed' if args.from_file else ''}")
    _section("store variants without an image", r.missing)
    _section("outputs left out", r.skipped)
    return FAILED if r.skipped else OK
