"""Review decisions: `approvals.yaml` beside the catalog, one line per reviewed variant.

Each decision approves or rejects one variant's output as it was when reviewed: it is keyed by the
variant id and the SHA-256 of that output's bytes, so an unchanged rebuild keeps it, any change to
the image reopens review, and changing it back restores the decision. It also keeps the short
hashes of what shaped that output (the manifest's `parts`), so a change since can be said in a
word ("colour", "prompt") and the variants changed by the same catalog edit grouped.

The file is YAML that diffs and merges well: a comment, `version`, and `decisions`, one flow
mapping per line, sorted by variant id (two reviewers' merges conflict only on a variant both
decided). It is written atomically. Review states of a variant's current output:

- `approved`, `rejected`: a decision of this very output;
- `pending`, with `change` "new" (never decided, or not built yet) or "changed" (decided for an
  earlier output; `reasons` says what changed since).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TypeVar

import yaml

from mockups.catalog._yaml import quoted
from mockups.engine.cache import atomic_write
from mockups.errors import MockupsError, did_you_mean

logger = logging.getLogger(__name__)

NAME = "approvals.yaml"
VERSION = 1
STATES = ("approved", "rejected")
_HEADER = ("# Review decisions for the outputs in build/: `mockups approve` and `mockups reject` write it.\n"
           "# One line per variant, sorted by id; each decides one output, by its SHA-256 (a changed\n"
           "# image is pending again). Merge it as any file: conflicts are lines two reviewers both decided.\n")


class ApprovalsError(MockupsError):
    """approvals.yaml (or a file of decisions exported by the gallery) is malformed."""


@dataclass(frozen=True)
class Decision:
    """One variant's output approved or rejected, by whom and when, with an optional note."""

    variant: str
    sha256: str
    state: str  # "approved" | "rejected"
    by: str
    at: str  # ISO 8601, UTC
    note: str | None = None
    parts: dict[str, str] = field(default_factory=dict, compare=False)  # the manifest's, of that output

    def line(self) -> str:
        fields = {"state": self.state, "sha256": self.sha256, "by": self.by, "at": self.at}
        if self.note:
            fields["note"] = self.note
        text = ", ".join(f"{k}: {quoted(v)}" for k, v in fields.items())
        if self.parts:
            text += ", parts: {" + ", ".join(f"{quoted(k)}: {quoted(v)}" for k, v in
                                             sorted(self.parts.items())) + "}"
        return f"  {quoted(self.variant)}: {{{text}}}\n"




@dataclass(frozen=True)
class Review:
    """A variant's review state: `state` approved, rejected or pending; for pending, `change` is
    "new" or "changed" and `reasons` what changed since the decision; `decision` the one on file."""

    variant: str
    state: str
    change: str | None = None
    reasons: tuple[str, ...] = ()
    decision: Decision | None = None

    @property
    def label(self) -> str:
        return f"pending ({self.change})" if self.state == "pending" else self.state


def path_for(catalog_file: Path) -> Path:
    return Path(catalog_file).parent / NAME


def load(path: Path) -> dict[str, Decision]:
    """The decisions in `path` by variant id ({} when there is no file). ApprovalsError if malformed."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a SafeLoader that refuses duplicate keys
    except _Duplicate as e:
        raise ApprovalsError(f"{path}:{e.line}: {e.key!r} is decided twice (a merge that kept both lines?): "
                             f"keep the one decision you mean") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ApprovalsError(f"{path}{where}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if data is None:
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("decisions", {}), dict):
        raise ApprovalsError(f"{path}: expected `version: 1` and `decisions:`, a mapping of variant id -> decision")
    if data.get("version", VERSION) != VERSION:
        raise ApprovalsError(f"{path}: version {data.get('version')!r} is not one this mockups reads (expected 1)")
    return {vid: _decision(path, vid, raw, text) for vid, raw in (data.get("decisions") or {}).items()}


class _Duplicate(yaml.YAMLError):
    def __init__(self, key, line: int):
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line = key, line


class _Loader(yaml.SafeLoader):
    """YAML's safe loader, but a mapping that names a key twice is an error: a merge that kept
    two reviewers' lines for one variant must not be read as whichever came last. (The catalog's
    loader, catalog._yaml, refuses duplicates too, but bounds a document at a catalog's size: an
    approvals file of 50,000 variants is over it.)"""

    def construct_mapping(self, node, deep=False):
        seen: set = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if isinstance(key, (str, int, float, bool)) or key is None:
                if key in seen:
                    raise _Duplicate(key, key_node.start_mark.line + 1)
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _Loader.construct_mapping)


def _line_of(text: str, vid) -> str:
    """":N", the line where decision `vid` is written (for messages), or "" when it cannot be told."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    found = next((v for k, v in root.value if k.value == "decisions"), None) if isinstance(root, yaml.MappingNode) \
        else None
    for k, _ in found.value if isinstance(found, yaml.MappingNode) else []:
        if k.value == str(vid):
            return f":{k.start_mark.line + 1}"
    return ""


def _decision(path: Path, vid, raw, text: str) -> Decision:
    def bad(message: str) -> ApprovalsError:
        return ApprovalsError(f"{path}{_line_of(text, vid)}: decisions.{vid}: {message}")

    if not isinstance(raw, dict):
        raise bad(f"expected a mapping with state, sha256, by and at, got {raw!r}")
    state, sha = raw.get("state"), raw.get("sha256")
    if state not in STATES:
        raise bad(f"state: expected approved or rejected, got {state!r}{did_you_mean(str(state), STATES)}")
    if not (isinstance(sha, str) and len(sha) == 64 and all(c in "0123456789abcdef" for c in sha)):
        raise bad(f"sha256: expected 64 hex digits, got {sha!r}")
    parts = raw.get("parts") or {}
    return Decision(str(vid), sha, state, str(raw.get("by") or "unknown"), str(raw.get("at") or ""),
                    str(raw["note"]) if raw.get("note") else None,
                    {str(k): str(v) for k, v in parts.items()} if isinstance(parts, dict) else {})


def save(path: Path, decisions: dict[str, Decision]) -> None:
    """Write every decision, sorted by variant id, atomically (`update` reads and writes under a lock)."""
    body = "".join(d.line() for _, d in sorted(decisions.items()))
    atomic_write(Path(path), (_HEADER + f"version: {VERSION}\ndecisions:" + ("\n" + body if body else " {}\n"))
                 .encode())


T = TypeVar("T")
LOCK_WAIT = 60.0  # seconds `update` waits for another writer of the same file


def update(path: Path, change: Callable[[dict[str, Decision]], tuple[dict[str, Decision] | None, T]]) -> T:
    """Read the decisions in `path`, `change` them and write them back (unless `change` gives None
    for them), under a lock that every process of this machine takes for that file: `approve`,
    `reject` and `serve` run side by side never lose each other's decisions. Returns what
    `change` returned besides the decisions."""
    import filelock

    real = os.path.realpath(path)
    name = hashlib.sha256(real.encode("utf-8", "surrogatepass")).hexdigest()[:24]
    # readable and writable by all (0o666, set past the umask): the temporary folder is shared, and
    # another user approving the same project must be able to take the lock that the first one made
    lock = filelock.FileLock(os.path.join(tempfile.gettempdir(), f"mockups-approvals-{name}.lock"), timeout=LOCK_WAIT,
                             mode=0o666)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise ApprovalsError(f"{path}: another mockups command has been writing it for {LOCK_WAIT:g} s; try again "
                             f"when it is done (lock: {lock.lock_file})") from None
    try:
        decisions, result = change(load(path))
        if decisions is not None:
            save(path, decisions)
        return result
    finally:
        lock.release()


def reviewer(folder: Path, given: str | None = None) -> str:
    """Who decides: `given`, else git's user.name <user.email> in the project, else the login name."""
    if given:
        return given
    found = []
    for key in ("user.name", "user.email"):
        try:
            out = subprocess.run(["git", "config", key], cwd=folder, capture_output=True, text=True, timeout=5)
            found.append(out.stdout.strip() if out.returncode == 0 else "")
        except (OSError, subprocess.SubprocessError):
            found.append("")
    name, email = found
    if name or email:
        return f"{name} <{email}>".strip() if email else name
    try:
        return os.getlogin()
    except OSError:
        return os.environ.get("USER") or "unknown"


def review(variant: str, entry: dict | None, decision: Decision | None) -> Review:
    """The review state of a variant whose current output is `entry` (a manifest entry; None when
    it is not built)."""
    sha = (entry or {}).get("sha256") if (entry or {}).get("status") == "ok" else None
    if decision is None:
        return Review(variant, "pending", "new")
    if sha is not None and decision.sha256 == sha:
        return Review(variant, decision.state, decision=decision)
    now = (entry or {}).get("parts") or {}
    reasons = tuple(sorted(k for k in set(now) | set(decision.parts) if now.get(k) != decision.parts.get(k)))
    return Review(variant, "pending", "changed", reasons or ("image",), decision)


DERIVED = ("prompt", "params", "backend")  # parts that follow from others (a hex in the prompt)


def group_of(item: Review, entry: dict | None) -> tuple:
    """What a pending variant's change has in common with the others one catalog edit changed:
    the catalog's things that changed (colour, background, an input image...) with their new values,
    so one colour's new hex groups its variants; or, when only derived parts changed (a template,
    the backend's version), their names."""
    if item.change != "changed":
        return ("new",)
    now = (entry or {}).get("parts") or {}
    things = tuple((k, now.get(k)) for k in item.reasons if k not in DERIVED)
    return ("changed",) + (things or tuple((k, None) for k in item.reasons))


def utc_stamp(when: datetime) -> str:
    """`when` as the decisions write it: ISO 8601 in UTC, to the second, "2031-05-06T07:08:09Z"."""
    return when.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def decide(decisions: dict[str, Decision], entries: Iterable[dict], state: str, *, by: str,
           note: str | None = None, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
           ) -> tuple[dict[str, Decision], list[str]]:
    """Decisions with each of `entries` (manifest entries of built outputs) approved or rejected;
    returns them and the ids whose decision changed (one already decided the same way is kept)."""
    if state not in STATES:
        raise ValueError(f"state must be one of {STATES}")
    at = utc_stamp(now())
    out, changed = dict(decisions), []
    for e in entries:
        vid, sha = e["id"], e["sha256"]
        old = out.get(vid)
        if old is not None and old.sha256 == sha and old.state == state and (note is None or old.note == note):
            continue
        out[vid] = Decision(vid, sha, state, by, at, note, dict(e.get("parts") or {}))
        changed.append(vid)
    return out, changed


def exported(path: Path) -> list[dict]:
    """The decisions a gallery exported (JSON: {"decisions": [{variant, sha256, state, note?}]})."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ApprovalsError(f"{path}: no such file") from None
    except ValueError as e:
        raise ApprovalsError(f"{path}: not a decisions file exported by the gallery ({e})") from None
    return parse_exported(data, str(path))


def parse_exported(data, source: str) -> list[dict]:
    """The decisions in `data` as a gallery sends or exports them; ApprovalsError naming `source`."""
    found = data.get("decisions") if isinstance(data, dict) else None
    if not isinstance(found, list):
        raise ApprovalsError(f"{source}: expected {{\"decisions\": [...]}} as the gallery exports it")
    out = []
    for i, d in enumerate(found):
        if not (isinstance(d, dict) and isinstance(d.get("variant"), str) and d.get("state") in STATES
                and isinstance(d.get("sha256"), str) and (d.get("note") is None or isinstance(d.get("note"), str))):
            raise ApprovalsError(f"{source}: decision {i + 1}: expected variant, sha256 and state (approved or "
                                 f"rejected), got {json.dumps(d)[:120]}")
        out.append(d)
    return out


@dataclass
class Merged:
    """What `merge` did: the decisions now, how many changed, and the ids it left out."""

    decisions: dict[str, Decision]
    applied: int = 0
    stale: list[str] = field(default_factory=list)  # the output changed since it was reviewed
    unknown: list[str] = field(default_factory=list)  # no such variant (selected)


def merge(decisions: dict[str, Decision], current: dict[str, dict | None], items: list[dict], *, by: str,
          note: str | None = None, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> Merged:
    """Decisions made elsewhere (a gallery) applied where their output is still the current one
    (`current`: manifest entries by variant id, None or not "ok" when not built)."""
    out = Merged(dict(decisions))
    for d in items:
        vid = d["variant"]
        entry = current.get(vid)
        if vid not in current:
            out.unknown.append(vid)
        elif not entry or entry.get("status") != "ok" or entry.get("sha256") != d["sha256"]:
            out.stale.append(vid)
        else:
            out.decisions, changed = decide(out.decisions, [entry], d["state"], by=d.get("by") or by,
                                            note=d.get("note") or note, now=now)
            out.applied += len(changed)
    return out


__all__ = ["ApprovalsError", "Decision", "Merged", "Review", "decide", "exported", "group_of", "load", "merge",
           "parse_exported", "path_for", "review", "reviewer", "save", "update"]
