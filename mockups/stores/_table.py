"""Reading and writing the stores' CSV/TSV files as they are: header, rows with their line numbers,
and the file's own conventions (byte-order mark, line ends, delimiter), so that an updated file
differs from the store's only where it was meant to."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from mockups.stores._model import StoreFileError


@dataclass
class Table:
    file: Path
    header: list[str]
    rows: list[tuple[int, list[str]]]  # (line number of the row's start, cells padded to the header)
    bom: bool = False
    newline: str = "\r\n"
    delimiter: str = ","
    _index: dict[str, int] | None = field(default=None, repr=False, compare=False)

    def column(self, *names: str) -> int | None:
        """The index of the first of `names` the header has (compared without case or spaces)."""
        if self._index is None or len(self._index) > len(self.header):
            self._index = {}
            for i, h in enumerate(self.header):
                self._index.setdefault(h.strip().lower(), i)
        index = self._index
        for name in names:
            if name.lower() in index:
                return index[name.lower()]
        return None

    def where(self, line: int) -> str:
        return f"{self.file.name}:{line}"


def read_table(path: Path, *, delimiter: str | None = None) -> Table:
    """A CSV (or TSV when `delimiter` is a tab, or sniffed from a tab in the header line)."""
    try:
        raw = path.read_bytes()
    except OSError as e:
        raise StoreFileError(f"cannot read {path}: {e.strerror or e}") from None
    bom = raw.startswith(b"\xef\xbb\xbf")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise StoreFileError(f"{path.name}: not UTF-8 text (byte {e.start}); export the file again as UTF-8") from None
    first = text.split("\n", 1)[0]
    sep = delimiter or ("\t" if "\t" in first else ",")
    newline = "\r\n" if "\r\n" in text[:4096] else "\n"
    if sep == "\t":  # a feed's TSV: one item a line, no quoting (a quote is part of its text)
        lines = [(n, line.rstrip("\r").split("\t")) for n, line in enumerate(text.split("\n"), 1)]
        if not lines or not any(lines[0][1]):
            raise StoreFileError(f"{path.name}: the file is empty")
        tsv_header = lines[0][1]
        tsv_rows = [(n, (cells + [""] * len(tsv_header))[:max(len(tsv_header), len(cells))])
                    for n, cells in lines[1:] if any(c.strip() for c in cells)]
        return Table(path, tsv_header, tsv_rows, bom=bom, newline=newline, delimiter=sep)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    try:
        header = next(reader)
    except StopIteration:
        raise StoreFileError(f"{path.name}: the file is empty") from None
    rows: list[tuple[int, list[str]]] = []
    start = reader.line_num + 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                rows.append((start, (cells + [""] * len(header))[:max(len(header), len(cells))]))
            start = reader.line_num + 1
    except csv.Error as e:
        raise StoreFileError(f"{path.name}:{reader.line_num}: not a readable CSV row ({e})") from None
    return Table(path, header, rows, bom=bom, newline=newline, delimiter=sep)


def table_bytes(table: Table) -> bytes:
    """The table written back with the file's own conventions."""
    bom = b"\xef\xbb\xbf" if table.bom else b""
    if table.delimiter == "\t":
        lines = ["\t".join(table.header)] + ["\t".join(cells) for _, cells in table.rows]
        return bom + (table.newline.join(lines) + table.newline).encode("utf-8")
    out = io.StringIO()
    writer = csv.writer(out, delimiter=table.delimiter, lineterminator=table.newline)
    writer.writerow(table.header)
    for _, cells in table.rows:
        writer.writerow(cells)
    return bom + out.getvalue().encode("utf-8")
