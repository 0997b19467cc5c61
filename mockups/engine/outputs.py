"""Finishing an output: the channel's canvas and format, embedded metadata, a thumbnail.

Image APIs drop metadata, so every output carries its own: SKU, colour, background, prompt,
backend and model, as PNG text chunks or XMP (WebP, JPEG); an AI backend's output also carries
the IPTC DigitalSourceType its backend declares (Rendered.source) in XMP, in all three formats.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from PIL import Image

from mockups.backends.base import Rendered
from mockups.jobs import Job


def metadata(job: Job, rendered: Rendered) -> dict[str, str]:
    v = job.variant
    return {
        "sku": v.product.sku, "product": v.product.name, "colour": f"{v.colour.name} ({v.colour.hex})",
        "background": v.background.name, "design": v.design.id if v.design else "", "channel": v.channel.id,
        **({"placement": v.placement} if v.placement else {}),
        "variant": v.id, "prompt": job.prompt, "backend": job.backend, "model": rendered.model or "",
        "key": job.key,
    }


def fit_to_channel(image: Image.Image, job: Job) -> Image.Image:
    """Backends return the channel size; a different size (an API's) is fitted, never stretched."""
    width, height = job.variant.channel.size
    size = (width, height)
    if image.size == size:
        return image
    scale = min(size[0] / image.width, size[1] / image.height)
    resized = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))),
                           Image.Resampling.LANCZOS)
    fill = job.variant.channel.background or "#FFFFFF"
    canvas = Image.new("RGB", size, fill)
    canvas.paste(resized.convert("RGB"), ((size[0] - resized.width) // 2, (size[1] - resized.height) // 2))
    return canvas


def finish(job: Job, rendered: Rendered) -> tuple[bytes, bytes, dict]:
    """Encode the output and its thumbnail; return (data, thumb, cache metadata)."""
    from mockups.imaging import encode, thumbnail

    channel = job.variant.channel
    image = fit_to_channel(rendered.image, job)
    data = encode(image, channel.format, quality=channel.quality, metadata=metadata(job, rendered),
                  digital_source=rendered.source)
    thumb = thumbnail(image)
    meta = {
        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(), "model": rendered.model,
        "usage": rendered.usage, "cost": round(rendered.cost, 6), "size": list(image.size),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "warnings": list(rendered.warnings),
        **({"digital_source": rendered.source} if rendered.source else {}),  # local outputs: no key
    }
    return data, thumb, meta
