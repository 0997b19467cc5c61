"""Shading strength of recoloured garments against real photos of the same garment (issue #13).

    python benchmarks/eval_shading.py EVAL_FOLDER OUTDIR [--only tee,hoodie] [--no-ceiling]

EVAL_FOLDER holds ``products/`` with the ground-truth sets (the same garment
photographed in several colours). For every garment and every direction
(source colour -> target colour) the source photo is recoloured to the real
target garment's median colour with (a) the current compositor
(``imaging.prepare_recolour`` + ``imaging.recolour`` on ``estimate_dye_mask``,
as ``backends/local.py`` does) and (b) ``shading.recolour_matched``, and the
script prints per direction:

* ``dE``   - median CIEDE2000 of the mid-tones (source L* 30-70 %) to the target colour,
* ``IQR``  - L* interquartile range, rendered / real target garment,
* ``con``  - local contrast (median |grad L*| after a 1.5 px blur), rendered / real.

Columns: ``current`` is the compositor as it is; ``new`` uses the shipped
``shading.FABRIC`` model (``GLAZE`` for the mugs, which are not fabric);
``loo`` refits the model without the target photo (leave-one-out: the real
garment being predicted never informs its own prediction); ``xg`` fits it on
the other garment only (tees checked with a hoodie-only fit and vice versa).
``--no-ceiling`` drops the fitted models' IQR ceiling, to see the slopes alone.
The script also prints the measured ground truth, the fits, the laws'
predicted / real strength per direction (no rendering), and writes
``OUTDIR/<garment>-<src>-to-<dst>.png`` (source | current | new | real target,
each over a full-resolution detail crop).

The ground-truth regions: the garment's silhouette (alpha, or on a white
backdrop dE00 to white > 1 / 8, filled), eroded by 8 px, without prints,
linings and strings (> 35 L* from the garment's median, or much less saturated
or another hue), intersected over a garment's photos when they are the same
shot (silhouette IoU > 0.97; true for all three sets).
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mockups import imaging as im  # noqa: E402
from mockups.imaging import _shading as sh  # noqa: E402

GARMENTS: dict[str, dict[str, str]] = {
    "tee": {c: f"tshirt-{c}-back-plain.jpg" for c in ("white", "black", "blue")},
    "hoodie": {c: f"hoodie-{c}-front-alpha.png" for c in ("red", "black")},
    "mug": {c: f"mug-{c}-print-white-bg.jpg" for c in ("red", "black")},
}
FABRICS = ("tee", "hoodie")  # the mugs are glazed ceramic: reported, not fitted
TILE = 420
DETAIL = 210  # px of the photo shown at full resolution in the detail row


@dataclass
class Photo:
    """One ground-truth photo: as the compositor sees it, and as it is measured."""

    garment: str
    colour: str
    rgba: Image.Image  # after cut-out (JPEG) as in local.py
    dye: np.ndarray  # uint8 estimate_dye_mask, limited to alpha
    silhouette: np.ndarray  # bool: simple segmentation of the garment
    exclude: np.ndarray  # bool: prints, linings, strings (far from the garment's colour)
    lab: np.ndarray  # float32 (H, W, 3) of rgba
    measure: np.ndarray | None = None  # bool: where statistics are taken (set per garment)


def _lab(rgba: Image.Image) -> np.ndarray:
    return im.srgb_to_lab(np.asarray(rgba.convert("RGB")))


def _largest_filled(mask: np.ndarray) -> np.ndarray:
    """Largest connected component of ``mask`` with its holes filled."""
    import cv2

    m = cv2.morphologyEx(mask.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((15, 15), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(m)
    if n < 2:
        return m.astype(bool)
    m = (labels == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    flood = m.copy()
    cv2.floodFill(flood, np.zeros((m.shape[0] + 2, m.shape[1] + 2), np.uint8), (0, 0), 1)
    return (m | (1 - flood)).astype(bool)


def _silhouette(raw: Image.Image) -> np.ndarray:
    """Alpha >= 250, or (white backdrop) dE00 to white > 1 (light garments) / 8, filled."""
    if raw.mode in ("RGBA", "LA") or (raw.mode == "P" and "transparency" in raw.info):
        return np.asarray(raw.convert("RGBA"))[..., 3] >= 250
    de = im.ciede2000(_lab(raw), np.array([100.0, 0.0, 0.0]))
    thr = 1.0 if np.median(de[de > 1.0]) < 10 else 8.0
    return _largest_filled(de > thr)


def _exclusions(lab: np.ndarray, silhouette: np.ndarray) -> np.ndarray:
    """Prints, linings, strings: far in L* (> 35) from the garment's median, or (coloured
    garments) much less saturated / another hue; dilated by 15 px. Folds and sheen stay in."""
    import cv2

    ref = np.median(lab[silhouette], axis=0)
    ref_c, chroma = float(np.hypot(ref[1], ref[2])), np.hypot(lab[..., 1], lab[..., 2])
    far = np.abs(lab[..., 0] - ref[0]) > 35.0
    if ref_c > 20.0:
        hue_gap = np.abs(np.angle(np.exp(1j * (np.arctan2(lab[..., 2], lab[..., 1])
                                                - np.arctan2(ref[2], ref[1])))))
        far |= (chroma < 0.4 * ref_c) | (np.degrees(hue_gap) > 45.0)
    far &= silhouette
    return cv2.dilate(far.astype(np.uint8), np.ones((31, 31), np.uint8)).astype(bool)


def load_photo(folder: Path, garment: str, colour: str) -> Photo:
    raw = Image.open(folder / "products" / GARMENTS[garment][colour])
    rgba = im.open_image(folder / "products" / GARMENTS[garment][colour])
    if not im.has_alpha(rgba):
        alpha, _ = im.auto_cutout(rgba)
        rgba = im.apply_alpha(rgba, alpha, backdrop=im.estimate_backdrop(rgba))
    alpha = np.asarray(rgba.getchannel("A"))
    dye = np.minimum(im.estimate_dye_mask(rgba), alpha)
    sil, lab = _silhouette(raw), _lab(rgba)
    return Photo(garment, colour, rgba, dye, sil, _exclusions(lab, sil), lab)


def set_measure_regions(photos: list[Photo], erosion: int = 8) -> None:
    """Eroded silhouette minus exclusions; intersected over the set when the shots align."""
    import cv2

    kernel = np.ones((2 * erosion + 1, 2 * erosion + 1), np.uint8)
    own = [cv2.erode(p.silhouette.astype(np.uint8), kernel).astype(bool) & ~p.exclude for p in photos]
    aligned = all(o.shape == own[0].shape for o in own)
    if aligned:
        sils = [p.silhouette for p in photos]
        iou = min((a & b).sum() / (a | b).sum() for a in sils for b in sils)
        aligned = iou > 0.97
    common = np.logical_and.reduce(own) if aligned else None
    for p, o in zip(photos, own, strict=True):
        p.measure = common if aligned else o


def median_hex(photo: Photo) -> str:
    """The real garment's colour: median L*, a*, b* over its measured region, as sRGB hex."""
    lab = np.median(photo.lab[photo.measure], axis=0)
    rgb = np.rint(im.lab_to_srgb(lab.astype(np.float64)) * 255).astype(int)
    return "#{:02X}{:02X}{:02X}".format(*rgb)


def fit_models(photos: list[Photo], truth: dict[str, sh.ShadingStats]) -> dict[str, sh.ShadingModel]:
    """The model on all fabric photos ("all"), without each photo ("-<garment>/<colour>") and
    without each garment ("-<garment>": fitted on the other garment only)."""
    samples = {key(p): (p.garment, truth[key(p)]) for p in photos if p.garment in FABRICS}
    if not samples:
        return {}
    models = {"all": sh.ShadingModel.fit(list(samples.values()))}
    for k in samples:
        models["-" + k] = sh.ShadingModel.fit([v for j, v in samples.items() if j != k])
    for g in FABRICS:
        rest = [v for v in samples.values() if v[0] != g]
        if len(rest) >= 2:
            models["-" + g] = sh.ShadingModel.fit(rest)
    return models


def compare_forms(photos: list[Photo], truth: dict[str, sh.ShadingStats]) -> None:
    """Predicted / real target strength per direction for each law (no rendering):
    in-sample and leaving the target photo out, with the worst |log ratio|."""
    samples = {key(p): (p.garment, truth[key(p)]) for p in photos if p.garment in FABRICS}
    pairs = [(s, d) for s in samples for d in samples if s != d and samples[s][0] == samples[d][0]]
    if not pairs:
        return
    print("strength laws: predicted / real target strength over", len(pairs), "directions")
    for stat in ("iqr", "contrast"):
        for form in ("power", "exp"):
            line = []
            for held in (None, "target"):
                ratios = []
                for s, d in pairs:
                    rest = [v for j, v in samples.items() if held is None or j != d]
                    law = sh.StrengthLaw.fit(form, [(g, float(np.clip(t.median_l, 20, 96)), getattr(t, stat))
                                                    for g, t in rest])
                    src, dst = samples[s][1], samples[d][1]
                    pred = getattr(src, stat) * law.ratio(*(float(np.clip(v.median_l, 20, 96)) for v in (src, dst)))
                    ratios.append(pred / getattr(dst, stat))
                worst = float(np.max(np.abs(np.log(ratios))))
                line.append(f"{'in-sample' if held is None else 'leave-target-out'} "
                            f"[{' '.join(f'{r:.2f}' for r in ratios)}] worst x{np.exp(worst):.2f}")
            print(f"  {stat:<8} {form:<5}  " + "   ".join(line))


def key(p: Photo) -> str:
    return f"{p.garment}/{p.colour}"


def evaluate(src: Photo, dst: Photo, truth: sh.ShadingStats, rendered: Image.Image) -> tuple[float, ...]:
    """(median mid-tone dE00, IQR ratio, contrast ratio) of a render against the real target."""
    target = np.median(dst.lab[dst.measure], axis=0)
    src_l = src.lab[..., 0][src.measure]
    lo, hi = np.percentile(src_l, [30, 70])
    lab = _lab(rendered)
    mid = (src_l >= lo) & (src_l <= hi)
    de = float(np.median(im.ciede2000(lab[src.measure][mid], target[None, :])))
    got = sh.shading_stats(lab[..., 0], src.measure)
    return de, got.iqr / truth.iqr, got.contrast / truth.contrast


def _tile(rgba: Image.Image, box: tuple[int, int, int, int], detail: tuple[int, int]) -> Image.Image:
    """The garment (downscaled) over a full-resolution detail crop, on light grey."""
    flat = Image.new("RGB", rgba.size, (200, 200, 200))
    flat.paste(rgba, (0, 0), rgba)
    whole = flat.crop(box)
    whole.thumbnail((TILE, TILE), Image.Resampling.LANCZOS)
    x, y = detail
    zoom = flat.crop((x, y, x + DETAIL, y + DETAIL)).resize((TILE, TILE), Image.Resampling.NEAREST)
    tile = Image.new("RGB", (TILE, 2 * TILE + 4), (255, 255, 255))
    tile.paste(whole, ((TILE - whole.width) // 2, 0))
    tile.paste(zoom, (0, TILE + 4))
    return tile


def side_by_side(images: list[tuple[str, Image.Image]], region: np.ndarray, path: Path) -> None:
    """source | current | new | real target, each with its detail crop, labelled."""
    ys, xs = np.nonzero(region)
    box = (int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1)
    # detail: around the region's centre, nudged to the measured fabric
    cy, cx = int(np.median(ys)), int(np.median(xs))
    detail = (max(0, cx - DETAIL // 2), max(0, cy - DETAIL // 2))
    sheet = Image.new("RGB", (len(images) * (TILE + 6), 2 * TILE + 30), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(images):
        sheet.paste(_tile(image, box, detail), (i * (TILE + 6), 24))
        draw.text((i * (TILE + 6) + 4, 6), label, fill=(0, 0, 0))
    sheet.save(path)


def render_pair(src: Photo, dst: Photo, models: dict[str, sh.ShadingModel],
                truth: dict[str, sh.ShadingStats], out: Path) -> dict[str, tuple[float, ...]]:
    """Render one direction with every method; metrics per method; writes the side-by-side PNG."""
    target_hex = median_hex(dst)
    prep = im.prepare_recolour(src.rgba, src.dye)
    renders = {"current": im.recolour(prep, src.rgba, target_hex)}
    mp = sh.prepare_matched(src.rgba, src.dye)
    if src.garment in FABRICS:
        choices = {"loo": "-" + key(dst), "xg": "-" + dst.garment}
        chosen = {"new": sh.FABRIC} | {name: models[k] for name, k in choices.items() if k in models}
    else:  # glazed mugs: the fabric fits do not apply
        chosen = {"new": sh.GLAZE}
    for name, model in chosen.items():
        renders[name] = sh.recolour_prepared(mp, src.rgba, target_hex, model)
    rows = {name: evaluate(src, dst, truth[key(dst)], img) for name, img in renders.items()}
    side_by_side([(f"source {src.colour}", src.rgba), (f"current -> {target_hex}", renders["current"]),
                  (f"new -> {target_hex}", renders["new"]), (f"real {dst.colour}", dst.rgba)],
                 src.measure, out / f"{src.garment}-{src.colour}-to-{dst.colour}.png")
    return rows


def print_truth(photos: list[Photo], truth: dict[str, sh.ShadingStats],
                models: dict[str, sh.ShadingModel]) -> None:
    print("ground truth (measured region):")
    for p in photos:
        t = truth[key(p)]
        print(f"  {key(p):<14} {median_hex(p)}  L*={t.median_l:5.1f}  IQR={t.iqr:5.2f}  "
              f"contrast={t.contrast:5.3f}  px={int(p.measure.sum())}")
    print("models (IQR ~ (L*+16)**p, contrast ~ exp(b * L*); L* clipped to [20, 96]):")
    for name, m in models.items():
        print(f"  {name:<14} iqr {m.iqr.form} {m.iqr.slope:+.4f} (scale_max {m.iqr.scale_max:.0f})   "
              f"contrast {m.contrast.form} {m.contrast.slope:+.4f}")


def print_table(results: list[tuple[str, dict[str, tuple[float, ...]]]]) -> None:
    methods = ["current", "new", "loo", "xg"]
    head = "".join(f" | {m:^20}" for m in methods)
    print(f"\n{'direction':<26}{head}\n{'':<26}" + " | {:>6} {:>6} {:>6}".format("dE", "IQR", "con") * 4)
    for name, rows in results:
        cells = "".join(" | {:6.2f} {:6.2f} {:6.2f}".format(*rows[m]) if m in rows else " | " + " " * 20
                        for m in methods)
        print(f"{name:<26}{cells}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_folder", type=Path)
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--only", default=",".join(GARMENTS), help="garments, comma-separated")
    parser.add_argument("--no-ceiling", action="store_true",
                        help="fitted models without the IQR ceiling (to see the slopes alone)")
    args = parser.parse_args(argv)
    args.outdir.mkdir(parents=True, exist_ok=True)
    photos: list[Photo] = []
    for garment in args.only.split(","):
        group = [load_photo(args.eval_folder, garment, c) for c in GARMENTS[garment]]
        set_measure_regions(group)
        photos += group
    truth = {key(p): sh.shading_stats(p.lab[..., 0], p.measure) for p in photos}
    models = fit_models(photos, truth)
    if args.no_ceiling:
        models = {k: replace(m, ceiling_margin=float("inf")) for k, m in models.items()}
    print_truth(photos, truth, models)
    compare_forms(photos, truth)
    results = []
    for src in photos:
        for dst in photos:
            if src.garment == dst.garment and src is not dst:
                rows = render_pair(src, dst, models, truth, args.outdir)
                results.append((f"{src.garment} {src.colour}->{dst.colour}", rows))
    print_table(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
