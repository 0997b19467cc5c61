"""The plan memo: each variant's prompt and job key as the last build computed them, reused when
nothing they depend on has changed, so that re-planning a 10,000-variant catalog after a one-colour
edit renders and hashes that colour's variants only.

`<cache>/plan-memo.json` maps each variant id to [prompt digest, prompt, key digest, key]:

- the prompt digest covers everything the rendered prompt depends on: every file of the template
  folders (the project's `templates/`, then the built-ins) by path and content; the code that
  renders (mockups/prompts.py and _sandbox.py, this module; the Jinja, MarkupSafe and Python
  versions); the template's name; and the variant's template context, value by value, as
  `prompts.context` makes it (its product, colour, background, design and channel as the
  template sees them, its placement, id and output: nothing catalog-wide);
- the key digest covers everything `jobs.job_key` hashes: KEY_SCHEMA and mockups/jobs.py, the
  backend's name and version, its `params`, the variant's `fields`, the inputs' SHA-256 and the
  prompt text itself.

Each shared value (the model of a product, a colour...) is digested once per build, by identity,
so a variant costs a few lookups and two SHA-256s of a few hundred bytes, where computing it costs
a Jinja render and a JSON dump of its whole payload. A reused key is the one `job_key` computed
from the same inputs: the memo never changes a key. With MOCKUPS_VERIFY_MEMO=1 (or
`PlanMemo(verify=True)`) every reused prompt and key is computed in full too, and a difference
raises MemoMismatch. (A template that draws on Jinja's `random` filter or `lipsum` renders another
prompt each time: the memo keeps the one it rendered, where without it every build remade those.)

It also keeps the SHA-256 of the manifest each build folder was last left with (`manifests`), so
that the next build can tell that the file is still exactly what a build wrote, and reuse the text
of its unchanged entries (engine.manifest.Texts). A memo that is missing, damaged, of another
version or of another project costs the work and nothing else: none of its digests match.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import sys
from pathlib import Path
from typing import Callable, TypeGuard

from mockups import _sandbox, jobs, prompts
from mockups.engine.cache import atomic_write
from mockups.errors import MemoMismatch
from mockups.jobs import KEY_SCHEMA, Job, job_key, variant_fields
from mockups.matrix import Variant

logger = logging.getLogger(__name__)

NAME = "plan-memo.json"
VERSION = 1
VERIFY = "MOCKUPS_VERIFY_MEMO"  # set (not "" or "0"): every reused prompt and key is checked in full
_CODE = (prompts.__file__, _sandbox.__file__, __file__)  # what renders a prompt
_KEY_CODE = (jobs.__file__,)  # what makes a key
_STRING = json.encoder.encode_basestring  # a string as JSON: no separator or control character left raw
_SORTED = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)  # as job_key dumps
_ORDERED = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)  # a template sees the order of keys
_PLAIN = (str, int, float, bool, type(None))


def verify_from_env() -> bool:
    return os.environ.get(VERIFY, "") not in ("", "0")


def _entry(value) -> TypeGuard[list[str]]:
    return isinstance(value, list) and len(value) == 4 and all(isinstance(v, str) for v in value)


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class PlanMemo:
    """The memo of the cache folder's `plan-memo.json` (None: kept in memory only). `prepare` hands
    it to `render_jobs` (through `run`), a build saves it. The counters say what the last run reused."""

    def __init__(self, file: Path | None, *, verify: bool | None = None):
        self.file = file
        self.verify = verify_from_env() if verify is None else verify
        self.old: dict[str, list] = {}  # variant id -> [prompt digest, prompt, key digest, key]
        self.manifests: dict[str, str] = {}  # manifest path -> SHA-256 of the bytes a build left it with
        self.new: dict[str, tuple[str, str, str, Job]] = {}  # this run's: key read from the job when saved
        self.damaged = False  # the file had entries that are not entries: written again
        self.prompts_reused = self.prompts_rendered = self.keys_reused = self.keys_computed = 0
        if file is not None:
            self._load(file)

    def _load(self, file: Path) -> None:
        try:
            doc = json.loads(file.read_bytes())
        except FileNotFoundError:
            return
        except (OSError, ValueError) as e:
            logger.info("%s is unreadable (%s): every prompt is rendered and every key computed", file, e)
            return
        if not isinstance(doc, dict) or doc.get("version") != VERSION:
            logger.info("%s is of another version: every prompt is rendered and every key computed", file)
            return
        variants, manifests = doc.get("variants"), doc.get("manifests")
        self.old = {k: v for k, v in variants.items() if _entry(v)} if isinstance(variants, dict) else {}
        self.damaged = not isinstance(variants, dict) or len(self.old) != len(variants)
        if isinstance(manifests, dict):
            self.manifests = {k: v for k, v in manifests.items() if isinstance(k, str) and isinstance(v, str)}

    def run(self, renderer: prompts.PromptRenderer, hash_file: Callable[[Path], str]) -> MemoRun:
        """What `render_jobs` asks for each variant; `hash_file` hashes the template files."""
        self.new = {}
        self.prompts_reused = self.prompts_rendered = self.keys_reused = self.keys_computed = 0
        return MemoRun(self, renderer, hash_file)

    def manifest_sha(self, path: Path) -> str | None:
        return self.manifests.get(str(path))

    def save(self, keep: set[str] | None = None, manifest: tuple[Path, str | None] | None = None) -> None:
        """Write the memo: this run's entries over the last ones, of the variants in `keep` (every
        variant of the catalog: those a selection left out keep theirs), and `manifest`'s
        (path, SHA-256 of its text; None: not known to be a build's) record."""
        variants = {vid: e for vid, e in self.old.items() if keep is None or vid in keep}
        changed = self.damaged or len(variants) != len(self.old)
        for vid, (pd, prompt, kd, job) in self.new.items():
            entry = [pd, prompt, kd, job.key]
            if variants.get(vid) != entry:
                variants[vid] = entry
                changed = True
        manifests = dict(self.manifests)
        if manifest is not None:
            path, sha = str(manifest[0]), manifest[1]
            if sha is None:
                manifests.pop(path, None)
            else:
                manifests[path] = sha
        changed = changed or manifests != self.manifests
        self.old, self.manifests, self.new, self.damaged = variants, manifests, {}, False
        if self.file is not None and changed:
            doc = {"version": VERSION, "variants": variants, "manifests": manifests}
            atomic_write(self.file, json.dumps(doc, separators=(",", ":")).encode(),
                         durable=False)  # derived: a torn memo only costs the work again

    def summary(self) -> str:
        return (f"plan memo: {self.prompts_reused} prompts reused, {self.prompts_rendered} rendered; "
                f"{self.keys_reused} keys reused, {self.keys_computed} computed")


class MemoRun:
    """One `render_jobs` pass: digests each variant's inputs and looks them up in the memo."""

    def __init__(self, memo: PlanMemo, renderer: prompts.PromptRenderer, hash_file: Callable[[Path], str]):
        self.memo = memo
        self.renderer = renderer
        self.models: dict[int, tuple[object, str]] = {}  # id(model) -> (model, digest of its template value)
        self.context_parts: dict[int, tuple[object, str]] = {}  # id(value) -> (value, digest): order kept
        self.shape: bool | None = None  # whether prompts.context makes what `_context_shape` checks
        self.params: dict[str, str] = {}  # repr -> JSON of the params of plain values
        self.field_parts: dict[int, tuple[object, str]] = {}  # id(value) -> (value, digest): keys sorted
        self.prompt_base = _STRING(json.dumps(["prompt", VERSION, sys.version, _versions("jinja2", "markupsafe"),
                                               _code(_CODE, hash_file), _templates(renderer, hash_file)],
                                              ensure_ascii=False))
        self.key_base = _STRING(json.dumps(["key", VERSION, KEY_SCHEMA, _code(_KEY_CODE, hash_file)]))

    # --- digests ---------------------------------------------------------------------------------

    def _digest(self, value, sort: bool) -> str:
        text = (_SORTED if sort else _ORDERED).encode(value)
        return _sha(f"{type(value).__name__}:{text}")

    def _part(self, value, seen: dict[int, tuple[object, str]], sort: bool) -> str:
        """A value as a digest (a dict: once per object) or as JSON (anything else)."""
        if value is None:
            return "null"
        if type(value) is not dict and not isinstance(value, dict):
            return (_SORTED if sort else _ORDERED).encode(value)
        found = seen.get(id(value))
        if found is None or found[0] is not value:
            found = seen[id(value)] = (value, self._digest(value, sort))
        return found[1]

    def prompt_digest(self, variant: Variant, template: str, vid: str | None = None) -> str:
        """Of everything the variant's prompt depends on (see the module's docstring)."""
        if self.shape is None:  # the first variant tells whether the context is made as `_context_parts` assumes
            self.shape = _context_shape(variant, self.renderer.data)
            if not self.shape:
                logger.debug("the template context is not what the plan memo knows: digested value by value")
        parts = [self.prompt_base, _STRING(template)]
        if self.shape:
            data, models = self.renderer.data, self.models
            for kind, model in (("product", variant.product), ("colour", variant.colour),
                                ("background", variant.background), ("design", variant.design),
                                ("channel", variant.channel)):
                if model is None:
                    parts.append("null")
                    continue
                found = models.get(id(model))
                if found is None or found[0] is not model:
                    found = models[id(model)] = (model, self._digest(data(kind, model), False))
                parts.append(found[1])
            placement = variant.placement
            parts += ("null" if placement is None else _STRING(placement), _STRING(vid or variant.id),
                      _STRING(variant.output))
        else:
            for name, value in prompts.context(variant, self.renderer.data).items():
                parts += (_STRING(name), self._part(value, self.context_parts, False))
        return _sha("\x00".join(parts))

    def _params(self, params) -> str:
        """The params as job_key dumps them; those of plain values by their repr, once per build (the
        repr of a str, int, float, bool or None tells it apart from every other such value)."""
        if type(params) is dict and all(type(k) is str and type(v) in _PLAIN for k, v in params.items()):
            shown = repr(params)
            found = self.params.get(shown)
            if found is None:
                found = self.params[shown] = _SORTED.encode(params)
            return found
        return _SORTED.encode(params)

    def key_digest(self, job: Job) -> str:
        """Of everything `job_key` hashes but the prompt's digest: the prompt itself."""
        seen = self.field_parts
        parts = [self.key_base, _STRING(job.backend), _STRING(job.backend_version), self._params(job.params)]
        for name, value in variant_fields(job.variant).items():
            parts.append(_STRING(name))
            if type(value) is dict:
                found = seen.get(id(value))
                if found is None or found[0] is not value:
                    found = seen[id(value)] = (value, self._digest(value, True))
                parts.append(found[1])
            else:
                parts.append(self._part(value, seen, True))
        for role, (_, sha) in sorted(job.inputs.items()):
            parts += (_STRING(role), _STRING(sha))
        parts.append(_STRING(job.prompt))
        return _sha("\x00".join(parts))

    # --- lookups ---------------------------------------------------------------------------------

    def prompt(self, variant: Variant, vid: str, template: str, render: Callable[[Variant], str]) -> tuple[str, str]:
        """(the variant's prompt, its digest): the memo's when its digest matches, else rendered.
        `vid` is the variant's id."""
        memo = self.memo
        digest = self.prompt_digest(variant, template, vid)
        found = memo.old.get(vid)
        if found is not None and found[0] == digest:
            memo.prompts_reused += 1
            if memo.verify and render(variant) != found[1]:
                raise MemoMismatch(f"{vid}: the prompt reused from the plan memo differs from the one "
                                   f"rendered now")
            return found[1], digest
        memo.prompts_rendered += 1
        return render(variant), digest

    def keyed(self, job: Job, vid: str, prompt_digest: str) -> None:
        """Give the job (of the variant `vid`) the memo's key when its digest matches (else `Job.key`
        computes it), and note the job for the memo's next save."""
        memo = self.memo
        digest = self.key_digest(job)
        found = memo.old.get(vid)
        if found is not None and found[2] == digest:
            memo.keys_reused += 1
            if memo.verify and job_key(job) != found[3]:
                raise MemoMismatch(f"{vid}: the key reused from the plan memo differs from the one computed now")
            job.__dict__["key"] = found[3]  # what the cached_property would hold: Job is frozen, its __dict__ is not
        else:
            memo.keys_computed += 1
        memo.new[vid] = (prompt_digest, job.prompt, digest, job)


_CONTEXT = ("product", "colour", "color", "background", "design", "channel", "placement", "variant")


def _context_shape(variant: Variant, data) -> bool:
    """Whether `prompts.context` makes what the fast digest assumes: these names, the five models'
    values as `data` makes them (`color` the same as `colour`), the placement's name and the
    variant's id and output. A context that holds more (catalog-wide data, say) is digested
    value by value instead, so that nothing it holds can change a prompt unseen."""
    ctx = prompts.context(variant, data)
    models = {"product": variant.product, "colour": variant.colour, "background": variant.background,
              "design": variant.design, "channel": variant.channel}
    return (tuple(ctx) == _CONTEXT and ctx["color"] is ctx["colour"]
            and all(ctx[k] is (data(k, m) if m is not None else None) for k, m in models.items())
            and ctx["placement"] == ({"name": variant.placement} if variant.placement else None)
            and ctx["variant"] == {"id": variant.id, "output": variant.output}
            and all(type(ctx[k]).__name__ == k for k in ("placement", "variant") if ctx[k] is not None))


def _versions(*names: str) -> list[str]:
    """The installed versions of the packages that render templates (Jinja, and MarkupSafe's filters)."""
    out = []
    for name in names:
        try:
            out.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:  # run from a checkout: then its code is what renders
            module = sys.modules.get(name)
            out.append(f"{name} {getattr(module, '__file__', None)} {os.urandom(16).hex()}")
    return out


def _code(files, hash_file: Callable[[Path], str]) -> list[str]:
    """Each code file's path and SHA-256; one that cannot be read makes digests that match nothing."""
    out = []
    for path in files:
        try:
            out.append(f"{path}:{hash_file(Path(path))}")
        except (OSError, TypeError) as e:  # TypeError: a module without a __file__
            logger.debug("%s cannot be read (%s): the plan memo is not used", path, e)
            out.append(f"{path}:unreadable {os.urandom(16).hex()}")
    return out


def _templates(renderer: prompts.PromptRenderer, hash_file: Callable[[Path], str]) -> list:
    """Every file in each folder the renderer looks templates up in, in order: [folder, [[relative
    path, sha256]...]] (a template may include, extend or import any of them)."""
    out: list = []
    for folder in renderer.folders:
        files: list = []
        for rel, path in _sandbox.template_files(folder):
            if not os.path.isfile(path):  # a dangling link, a socket: nothing Jinja can load
                files.append([rel, None])
                continue
            try:
                files.append([rel, hash_file(Path(path))])
            except OSError as e:
                files.append([rel, f"unreadable: {e.strerror}"])
        out.append([str(folder), files])
    return out
