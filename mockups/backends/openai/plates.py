"""Background plates for the `openai` backend's `plates` strategy, and the cost of each strategy.

A background given only as a prompt is generated once per (model, quality, size, prompt) with
`images.generate`, kept at `<cache_dir>/plates/<sha256>.png` (written atomically; one lock per
plate, so concurrent workers generate it once), and reused by every variant that shows it: the
local compositor places the product on it. Other backends' backgrounds (colours, gradients,
images) need no request at all under this strategy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
from pathlib import Path

from PIL import Image

from mockups import imaging
from mockups._lru import LRU
from mockups.backends.base import Rendered
from mockups.backends.openai.images import decode, png
from mockups.engine.cache import atomic_write
from mockups.errors import BackendError

logger = logging.getLogger(__name__)

PLATE_PROMPT = ("{prompt}. An empty setting for a product photograph: no product, no people, no text or logos; "
                "clear space in the middle where a product will stand; photographic, natural light.")
MEMORY = 16  # plates kept decoded in memory


def plate_key(model: str, quality: str, size: str, prompt: str) -> str:
    blob = json.dumps(["plate", 1, model, quality, size, prompt], ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def plate_request(backend, job) -> tuple[str, dict] | None:
    """(key, generate() arguments) of the plate a job needs, or None if it needs none."""
    v, p = job.variant, job.params
    if v.background.kind != "prompt" or v.channel.background:
        return None
    fields = {"model": p["model"], "prompt": PLATE_PROMPT.format(prompt=v.background.prompt.rstrip(". ")),
              "quality": p["quality"], "size": backend.request_size(job), "n": 1, "output_format": "png"}
    return plate_key(fields["model"], fields["quality"], fields["size"], fields["prompt"]), fields


class PlateStore:
    def __init__(self, cache_dir: str | os.PathLike | None):
        self.dir = Path(cache_dir) / "plates" if cache_dir else None
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._memory: LRU[Image.Image] = LRU(MEMORY, thread_safe=True)
        self._failed: dict[str, BackendError] = {}
        self._charged: set[str] = set()
        self.generated = 0  # requests made (for tests and logs)

    def path(self, key: str) -> Path | None:
        return self.dir / f"{key}.png" if self.dir else None

    def exists(self, key: str) -> bool:
        path = self.path(key)
        return key in self._memory or bool(path and path.exists())

    def charge_once(self, key: str) -> bool:
        """For estimates: True the first time a plate that is not made yet is asked about."""
        with self._guard:
            if key in self._charged or self.exists(key):
                return False
            self._charged.add(key)
            return True

    def _lock_for(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks.setdefault(key, threading.Lock())

    def _remember(self, key: str, image: Image.Image) -> None:
        self._memory.put(key, image)

    def _load(self, key: str) -> Image.Image | None:
        found = self._memory.get(key)
        if found is not None:
            return found
        path = self.path(key)
        if path is None or not path.exists():
            return None
        try:
            image = imaging.open_image(path).convert("RGB")
        except imaging.ImagingError as e:
            logger.warning("background plate %s is damaged (%s): it is made again", path, e)
            return None  # a damaged plate is made again
        self._remember(key, image)
        return image

    def get(self, backend, key: str, fields: dict) -> tuple[Image.Image, dict | None, float]:
        """The plate, and the usage and cost if this call generated it."""
        with self._lock_for(key):
            if key in self._failed:
                raise self._failed[key]
            found = self._load(key)
            if found is not None:
                return found, None, 0.0
            try:
                response = backend.call(backend.client().images.generate, **fields)
                image = decode(response).convert("RGB")
            except BackendError as e:
                if not e.transient:
                    self._failed[key] = e  # moderation etc.: do not ask again for every variant
                raise
            path = self.path(key)
            if path is not None:
                atomic_write(path, png(image))
            self._remember(key, image)
            self.generated += 1
        usage = response.usage.model_dump(exclude_none=True) if response.usage else None
        est = backend.table.estimate(fields["model"], fields["quality"], fields["size"], 0, len(fields["prompt"]))
        cost, _ = backend.cost_of(fields["model"], usage, est.dollars if est else 0.0, est.note if est else None)
        return image, usage, cost

    def render(self, backend, job) -> Rendered:
        found = plate_request(backend, job)
        if found is None:
            return backend.local_render(job, [])
        key, fields = found
        plate, usage, cost = self.get(backend, key, fields)
        product, look = backend.local_parts(job, design=True)
        ch = job.variant.channel
        shadow = True if ch.shadow is None else ch.shadow
        image = imaging.compose(look, plate, tuple(ch.size), fill=ch.fill, shadow=shadow, backdrop=product.backdrop)
        return Rendered(image=backend.caption(image, job), model=fields["model"], usage=usage, cost=cost,
                        warnings=list(product.warnings), source="compositeWithTrainedAlgorithmicMedia")


def job_cost(backend, job, charge_once, strategy: str | None = None) -> float:
    """Estimated dollars of one job under `strategy` (default: the job's own)."""
    p, v = job.params, job.variant
    if p["mode"] == "scene":
        if (strategy or p.get("strategy")) == "plates":
            found = plate_request(backend, job)
            if found is None or not charge_once(found[0]):
                return 0.0
            f = found[1]
            return backend.table.estimate_cost(f["model"], f["quality"], f["size"], 0, len(f["prompt"])) or 0.0
        if p["product_lock"] and v.channel.background:
            return 0.0
    return backend.estimate_edit(job)


__all__ = ["PlateStore", "plate_key", "job_cost"]
