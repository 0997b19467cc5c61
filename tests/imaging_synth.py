"""Synthetic test photos made with numpy: studio shots and scenes with known ground truth.

Shapes are rendered 4x supersampled and area-averaged, so edges carry true
fractional coverage (the ground-truth alpha).
"""

from __future__ import annotations

import cv2
import numpy as np

SS = 4  # supersampling factor


def coverage(shape: tuple[int, int], draw) -> np.ndarray:
    """Anti-aliased coverage in [0, 1] of whatever ``draw(canvas_uint8, scale)`` fills with 255."""
    h, w = shape
    big = np.zeros((h * SS, w * SS), np.uint8)
    draw(big, SS)
    return cv2.resize(big.astype(np.float32) / 255.0, (w, h), interpolation=cv2.INTER_AREA)


def ellipse(shape, centre, axes, angle=0.0) -> np.ndarray:
    return coverage(shape, lambda c, s: cv2.ellipse(c, (round(centre[0] * s), round(centre[1] * s)),
                                                   (round(axes[0] * s), round(axes[1] * s)), angle, 0, 360, 255, -1))


def polygon(shape, points) -> np.ndarray:
    return coverage(shape, lambda c, s: cv2.fillPoly(c, [np.rint(np.asarray(points) * s).astype(np.int32)], 255))


def stripe(shape, p0, p1, width) -> np.ndarray:
    return coverage(shape, lambda c, s: cv2.line(c, (round(p0[0] * s), round(p0[1] * s)),
                                                (round(p1[0] * s), round(p1[1] * s)), 255, round(width * s)))


def backdrop(shape, colour, *, gradient: float = 0.0, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """A plain backdrop with an optional vertical light fall-off and sensor noise (float RGB)."""
    h, w = shape
    yy = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    img = np.broadcast_to(np.float32(colour), (h, w, 3)) * (1.0 - gradient * yy)
    rng = np.random.default_rng(seed)
    return np.clip(img + rng.normal(0, noise, (h, w, 3)).astype(np.float32), 0, 1)


def over(img: np.ndarray, alpha: np.ndarray, colour) -> np.ndarray:
    """Composite a flat colour (or an image) with coverage ``alpha`` over ``img``."""
    a = alpha[..., None]
    return img * (1.0 - a) + np.asarray(colour, np.float32) * a


def textured(shape, colour, amount: float, seed: int = 1) -> np.ndarray:
    """A flat colour with fine random texture (heather fabric)."""
    rng = np.random.default_rng(seed)
    n = rng.normal(0, amount, shape).astype(np.float32)
    return np.clip(np.float32(colour) + n[..., None], 0, 1)


def clutter(shape, seed: int = 3) -> np.ndarray:
    """A busy outdoor-like background: blurred multi-scale colour noise."""
    h, w = shape
    rng = np.random.default_rng(seed)
    img = np.zeros((h, w, 3), np.float32)
    for scale, weight in ((4, 0.5), (16, 0.35), (48, 0.25)):
        small = rng.random((max(2, h // scale), max(2, w // scale), 3)).astype(np.float32)
        img += weight * cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    img = (img - img.min()) / (img.max() - img.min())
    return np.clip(0.25 + 0.7 * img, 0, 1)


def to_uint8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(img * 255), 0, 255).astype(np.uint8)


def jpeg(img: np.ndarray, quality: int = 90) -> np.ndarray:
    """Round-trip through JPEG (ringing and block noise like a real photo)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(to_uint8(img), cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.cvtColor(cv2.imdecode(buf, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


SKIN, GREY, JEANS = (0.85, 0.62, 0.50), (0.42, 0.42, 0.43), (0.13, 0.16, 0.28)


def worn_tee(shape=(320, 240), *, arm: bool = True, seed: int = 0) -> dict:
    """A person in a grey heather tee outdoors: head, arm crossing the chest, jeans to the bottom edge.

    Returns the uint8 photo and ground-truth masks: ``garment`` (the
    visible shirt), ``arm``, ``head``, ``jeans``, ``background`` and a
    chest ``quad`` crossed by the arm.
    """
    h, w = shape
    shirt = polygon(shape, [(0.25 * w, 0.28 * h), (0.75 * w, 0.28 * h), (0.80 * w, 0.78 * h), (0.20 * w, 0.78 * h)])
    head = ellipse(shape, (0.5 * w, 0.15 * h), (0.11 * w, 0.12 * h))
    neck = polygon(shape, [(0.44 * w, 0.2 * h), (0.56 * w, 0.2 * h), (0.56 * w, 0.3 * h), (0.44 * w, 0.3 * h)])
    jeans = polygon(shape, [(0.22 * w, 0.76 * h), (0.78 * w, 0.76 * h), (0.8 * w, 1.0 * h), (0.2 * w, 1.0 * h)])
    arm_m = stripe(shape, (0.1 * w, 0.35 * h), (0.95 * w, 0.62 * h), 0.07 * w) if arm else np.zeros(shape, np.float32)
    img = clutter(shape, seed + 3)
    img = over(img, jeans, JEANS)
    img = over(img, shirt, textured(shape, GREY, 0.05, seed + 1))
    img = over(img, np.maximum(head, neck), SKIN)
    img = over(img, arm_m, SKIN)
    quad = [(0.35 * w, 0.36 * h), (0.65 * w, 0.36 * h), (0.65 * w, 0.6 * h), (0.35 * w, 0.6 * h)]
    garment = (shirt > 0.5) & (arm_m < 0.5) & (np.maximum(head, neck) < 0.5)
    return {"rgb": to_uint8(img), "garment": garment, "arm": (arm_m > 0.5) & (shirt > 0.5), "head": head > 0.5,
            "jeans": (jeans > 0.5) & (shirt < 0.5),
            "background": np.maximum.reduce([shirt, head, neck, jeans, arm_m]) < 0.5,
            "quad": quad}
