"""Evaluate photo classification, garment segmentation and matting on real photos.

    python benchmarks/eval_segmentation.py FOLDER OUTDIR [--annotations DIR] [--only NAME ...] [--baseline]

For every photo in FOLDER: the detected kind with its confidence and
timing; cut-out photos are matted (:func:`mockups.imaging.matting.matte_cutout`),
scene photos segmented (:func:`mockups.imaging.segment.segment_garment`) from the
print-area quad of ``annotations/NAME.json`` or a seed point listed in
``SEEDS`` below. Photos that already carry an alpha channel are only
classified (composited on white, as a cut-out product would look).

Written to OUTDIR per photo: ``NAME-sheet.png`` (outline over the photo |
alpha | matte over magenta | matte over dark green) and ``NAME-zoom.png``
(1:1 crops at the top, left, right and bottom of the silhouette, over
magenta and green). Printed: a table; ``results.json`` holds the numbers.

Halo measure (cut-outs): the matte is composited on magenta and on dark
green; in a thin band at the edge (3 px either side of the 0.5 contour)
the composite is compared with the composite of the *expected* colour,
the product colour bled outward from 6-12 px inside; the mean CIE76
difference is the halo (old backdrop or lost product showing). The same
measure on a ring 6-12 px inside (the texture's natural variation) is
printed next to it. ``--baseline`` measures the repository's current
``auto_cutout`` + ``apply_alpha`` the same way. IoU: against the hand-drawn polygons of ``annotations``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockups.imaging._ops import dilate, erode, to_lab  # noqa: E402
from mockups.imaging.matting import matte_cutout  # noqa: E402
from mockups.imaging.segment import classify_photo, segment_garment_details  # noqa: E402

MAGENTA, GREEN = np.float32([1.0, 0.0, 1.0]), np.float32([0.0, 0.25, 0.05])
# Seed points (x, y) on the product for scene photos without an annotation, read off the photos by eye.
SEEDS = {
    "beanie-white-worn-outdoor.jpg": (450, 520),  # on the knit of the beanie
    "phone-back-black-on-yellow.jpg": (600, 420),  # on the phone's back, away from the camera and logo
    "cup-coffee-topdown-skimage.png": (300, 60),  # on the saucer rim
}
EXPECTED = {"tshirt-gray-raglan-worn.jpg": "scene", "beanie-white-worn-outdoor.jpg": "scene",
            "phone-back-black-on-yellow.jpg": "scene", "cup-coffee-topdown-skimage.png": "scene"}


def load(path: Path) -> tuple[np.ndarray, bool]:
    """RGB uint8 (alpha images composited on white) and whether the file had real alpha."""
    im = Image.open(path)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if has_alpha:
        rgba = im.convert("RGBA")
        flat = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return np.asarray(Image.alpha_composite(flat, rgba).convert("RGB")), True
    return np.asarray(im.convert("RGB")), False


def composite(fg: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> np.ndarray:
    a = alpha[..., None]
    return fg * a + colour * (1.0 - a)


def halo(img: np.ndarray, fg: np.ndarray, alpha: np.ndarray) -> dict[str, float]:
    """Edge-band colour deviation of the composites on magenta and green vs the expected colour (CIE76).

    ``expected``: the product colour bled outward from a ring 6-12 px inside.
    Both composites are smoothed (sigma 1.5 px) so fabric texture averages
    out and what remains is a systematic fringe. ``*_dL`` is the signed
    lightness error in the band (> 0: a lighter rim, e.g. a white backdrop
    showing). ``inside`` is the same deviation on the inside ring: the
    floor that texture alone gives.
    """
    hard = alpha > 0.5
    band = dilate(hard, 2) & ~erode(hard, 2)
    inside = erode(hard, 6) & ~erode(hard, 12)
    if not inside.any():
        return {"halo_magenta": float("nan"), "halo_green": float("nan"), "inside": float("nan")}
    w = inside.astype(np.float32)
    weight = cv2.GaussianBlur(w, (0, 0), 6.0)
    expected = np.clip(cv2.GaussianBlur(img * w[..., None], (0, 0), 6.0) / np.maximum(weight, 1e-6)[..., None], 0, 1)
    sel = band & (weight > 0.02)

    def smooth_lab(x: np.ndarray) -> np.ndarray:
        return to_lab(np.clip(cv2.GaussianBlur(x, (0, 0), 1.5), 0, 1))

    out = {}
    for name, colour in (("magenta", MAGENTA), ("green", GREEN)):
        got, want = smooth_lab(composite(fg, alpha, colour)), smooth_lab(composite(expected, alpha, colour))
        out[f"halo_{name}"] = float(np.mean(np.linalg.norm(got - want, axis=-1)[sel]))
        out[f"halo_{name}_dL"] = float(np.mean((got - want)[..., 0][sel]))
    out["inside"] = float(np.mean(np.linalg.norm(smooth_lab(img) - smooth_lab(expected), axis=-1)[inside]))
    return {k: round(v, 2) for k, v in out.items()}


def polygon_mask(polys: list, shape: tuple[int, int]) -> np.ndarray:
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [np.asarray(p, np.int32) for p in polys], 1)
    return mask.astype(bool)


def iou(pred: np.ndarray, truth: np.ndarray) -> float:
    return round(float(np.count_nonzero(pred & truth) / max(1, np.count_nonzero(pred | truth))), 4)


def outline(img: np.ndarray, alpha: np.ndarray, extra: list | None = None) -> np.ndarray:
    """The photo with the 0.5 contour of alpha in magenta (and optional polygons in cyan)."""
    out = np.ascontiguousarray((img * 255).astype(np.uint8))
    contours, _ = cv2.findContours((alpha > 0.5).astype(np.uint8), cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    thick = max(2, round(max(img.shape[:2]) / 400))
    cv2.drawContours(out, contours, -1, (255, 0, 255), thick)
    for poly in extra or []:
        cv2.polylines(out, [np.asarray(poly, np.int32)], True, (0, 255, 255), thick)
    return out.astype(np.float32) / 255.0


def sheet(panels: list[np.ndarray], height: int = 480) -> Image.Image:
    tiles = []
    for p in panels:
        p = np.repeat(p[..., None], 3, axis=2) if p.ndim == 2 else p
        im = Image.fromarray(np.clip(p * 255, 0, 255).astype(np.uint8))
        tiles.append(im.resize((round(im.width * height / im.height), height), Image.Resampling.LANCZOS))
    out = Image.new("RGB", (sum(t.width for t in tiles) + 6 * (len(tiles) - 1), height), (128, 128, 128))
    x = 0
    for t in tiles:
        out.paste(t, (x, 0))
        x += t.width + 6
    return out


def zoom(img: np.ndarray, fg: np.ndarray, alpha: np.ndarray, size: int = 160) -> Image.Image:
    """1:1 crops at the top/left/right/bottom extreme of the silhouette: photo, magenta, green."""
    ys, xs = np.nonzero(alpha > 0.5)
    if ys.size == 0:
        return Image.new("RGB", (size, size))
    h, w = alpha.shape
    picks = [(ys.min(), xs[ys == ys.min()].mean()), (ys[xs == xs.min()].mean(), xs.min()),
             (ys[xs == xs.max()].mean(), xs.max()), (ys.max(), xs[ys == ys.max()].mean())]
    rows = []
    for cy, cx in picks:
        y0 = int(np.clip(cy - size // 2, 0, max(0, h - size)))
        x0 = int(np.clip(cx - size // 2, 0, max(0, w - size)))
        crop = (slice(y0, y0 + size), slice(x0, x0 + size))
        rows.append([img[crop], composite(fg[crop], alpha[crop], MAGENTA), composite(fg[crop], alpha[crop], GREEN)])
    grid = np.concatenate([np.concatenate([np.pad(c, ((2, 2), (2, 2), (0, 0)), constant_values=0.5) for c in r], 1)
                           for r in rows], 0)
    return Image.fromarray(np.clip(grid * 255, 0, 255).astype(np.uint8)).resize(
        (grid.shape[1] * 2, grid.shape[0] * 2), Image.Resampling.NEAREST)


def baseline(path: Path, img: np.ndarray) -> dict[str, float]:
    """The repository's current auto_cutout + apply_alpha, measured the same way (read-only import)."""
    from mockups import imaging as im  # noqa: PLC0415
    photo = im.open_image(path)
    start = time.perf_counter()
    alpha, conf = im.auto_cutout(photo)
    cut = np.asarray(im.apply_alpha(photo, alpha, backdrop=im.estimate_backdrop(photo))).astype(np.float32) / 255
    seconds = time.perf_counter() - start
    result = halo(img, cut[..., :3], cut[..., 3])
    return {"confidence": round(float(conf), 3), "seconds": round(seconds, 2), **result}


def run_cutout(path: Path, img: np.ndarray, out: Path, with_baseline: bool) -> dict:
    start = time.perf_counter()
    alpha, fg, conf, details = matte_cutout(img)
    seconds = time.perf_counter() - start
    stem = path.stem
    sheet([outline(img, alpha), alpha, composite(fg, alpha, MAGENTA), composite(fg, alpha, GREEN)]).save(
        out / f"{stem}-sheet.png")
    zoom(img, fg, alpha).save(out / f"{stem}-zoom.png")
    row = {"matte_confidence": conf, "matte_seconds": round(seconds, 2), **halo(img, fg, alpha),
           "holes": details["holes_cut"], "shadow_removed": details["shadow_removed"], "reason": details["reason"]}
    if with_baseline:
        row["baseline"] = baseline(path, img)
    return row


def run_scene(path: Path, img: np.ndarray, out: Path, annotation: dict | None) -> dict:
    seed = annotation["print_quad"] if annotation else SEEDS.get(path.name)
    if seed is None:
        return {"note": "scene photo without a seed: not segmented"}
    start = time.perf_counter()
    result = segment_garment_details(img, seed)
    seconds = time.perf_counter() - start
    alpha = result.alpha
    extra = [seed] if annotation else []
    row: dict = {"seg_confidence": result.confidence, "seg_seconds": round(seconds, 2), "reason": result.reason,
                 **result.measures}
    if annotation:
        truth = polygon_mask(annotation["garment"], alpha.shape)
        sleeves = polygon_mask(annotation.get("sleeves", []), alpha.shape) & ~truth
        pred = alpha > 0.5
        row.update({"iou": iou(pred, truth), "in_sleeves": round(float((pred & sleeves).sum() / max(1, pred.sum())), 4),
                    "elsewhere": round(float((pred & ~truth & ~sleeves).sum() / max(1, pred.sum())), 4),
                    "missed": round(float((truth & ~pred).sum() / max(1, truth.sum())), 4)})
        extra += annotation["garment"]
    point = np.asarray(seed, np.float64).reshape(-1, 2)
    pic = outline(img, alpha, extra)
    for x, y in point if point.shape[0] == 1 else []:
        cv2.circle(pic, (int(x), int(y)), max(6, img.shape[0] // 100), (0.0, 1.0, 0.0), -1)
    panels = [pic, alpha, composite(img, alpha, MAGENTA), composite(img, alpha, GREEN)]
    sheet(panels).save(out / f"{path.stem}-sheet.png")
    return row


def evaluate(path: Path, out: Path, annotations: Path, with_baseline: bool) -> dict:
    rgb, has_alpha = load(path)
    img = rgb.astype(np.float32) / 255.0
    start = time.perf_counter()
    kind, conf, details = classify_photo(rgb)
    row = {"photo": path.name, "size": f"{rgb.shape[1]}x{rgb.shape[0]}", "kind": kind, "kind_confidence": conf,
           "classify_seconds": round(time.perf_counter() - start, 3), "expected": EXPECTED.get(path.name, "cutout"),
           "score": details["score"], "border_match": details["border_match"], "alpha_file": has_alpha}
    if has_alpha:
        return row
    ann_file = annotations / f"{path.stem}.json"
    annotation = json.loads(ann_file.read_text()) if ann_file.exists() else None
    if kind == "cutout":
        row.update(run_cutout(path, img, out, with_baseline))
    else:
        row.update(run_scene(path, img, out, annotation))
    return row


def print_row(r: dict) -> None:
    ok = "ok " if r["kind"] == r["expected"] else "BAD"
    text = f"{r['photo']:40s} {r['kind']:6s} {ok} conf {r['kind_confidence']:.2f} ({r['classify_seconds']:.2f}s)"
    if "matte_confidence" in r:
        text += (f" | matte conf {r['matte_confidence']:.2f} {r['matte_seconds']:.2f}s halo m/g "
                 f"{r['halo_magenta']:.1f}/{r['halo_green']:.1f}"
                 f" (dL {r['halo_magenta_dL']:+.1f}/{r['halo_green_dL']:+.1f})"
                 f" inside {r['inside']:.1f} holes {r['holes']}")
        if "baseline" in r:
            b = r["baseline"]
            text += (f" | baseline conf {b['confidence']:.2f} halo m/g {b['halo_magenta']:.1f}/{b['halo_green']:.1f}"
                     f" (dL {b['halo_magenta_dL']:+.1f}/{b['halo_green_dL']:+.1f})")
    if "seg_confidence" in r:
        text += f" | seg conf {r['seg_confidence']:.2f} {r['seg_seconds']:.2f}s"
        if "iou" in r:
            text += f" IoU {r['iou']:.3f} (sleeves {r['in_sleeves']:.3f}, elsewhere {r['elsewhere']:.3f})"
    print(text + (f"  [{r['reason']}]" if r.get("reason") else ""), flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--annotations", type=Path, default=Path(__file__).resolve().parent / "annotations")
    parser.add_argument("--only", nargs="*", default=None, help="photo file names to run (default: all)")
    parser.add_argument("--baseline", action="store_true", help="also measure the repository's auto_cutout")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    photos = sorted(p for p in args.folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    rows = []
    for path in photos:
        if args.only and path.name not in args.only:
            continue
        rows.append(evaluate(path, args.outdir, args.annotations, args.baseline))
        print_row(rows[-1])
    (args.outdir / "results.json").write_text(json.dumps(rows, indent=1, default=str))
    wrong = [r["photo"] for r in rows if r["kind"] != r["expected"]]
    summary = f"{len(rows)} photos, {len(rows) - len(wrong)} classified as expected"
    print(summary + (f"; wrong: {wrong}" if wrong else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
