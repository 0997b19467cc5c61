"""Evaluate the offline compositor on real product photos.

    python benchmarks/eval_compositor.py OUT_DIR [--eval-dir /work/shared/eval-images] [--size 1024]
    python benchmarks/eval_compositor.py --bench [--repeat 7]

For several products it runs cut-out (when the photo has no alpha), recolour
(navy, white, cherry, black), design placement, background, shadow and
compose, writes one PNG per result plus ``contact-sheet.png`` and prints
timings. The evaluation photos are not part of the repository: when the
folder does not exist the script says so and exits successfully.

``--bench`` needs no photos: it times every operation on synthetic
1024x1024 inputs and prints the median of ``--repeat`` runs.
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mockups import imaging as im  # noqa: E402

DEFAULT_EVAL_DIR = Path("/work/shared/eval-images")
COLOURS = {"navy": "#1F2A44", "white": "#F4F4F2", "cherry": "#B22234", "black": "#1B1B1D"}

# product file, design file, print area as fractions of the product's alpha box
# (x, y, width, height), background spec.
CASES = [
    ("tshirt-white-back-plain.jpg", "noto-fox-face-512.png", (0.33, 0.20, 0.34, 0.34),
     ("studio", {"colour": "#EDEDEA"})),
    ("tshirt-white-front-print.jpg", "solidus-wordmark-2000w.png", (0.25, 0.22, 0.50, 0.36),
     ("solid", {"colour": "#FFFFFF"})),
    ("tshirt-black-front-alpha.png", "noto-fox-face-512.png", (0.32, 0.20, 0.36, 0.36),
     ("linear", {"stops": ["#F6F3EE", "#DCD6CC"], "angle": 180})),
    ("hoodie-red-front-alpha.png", "noto-fox-face-512.png", (0.36, 0.36, 0.28, 0.22),
     ("image", {"image": "backgrounds/wooden-table-white-wall.jpg"})),
    ("mug-red-print-white-bg.jpg", "noto-hot-beverage-512.png", (0.38, 0.22, 0.40, 0.50),
     ("radial", {"inner": "#FFFFFF", "outer": "#D8DCE0"})),
    ("mug-black-print-white-bg.jpg", "sylius-logo-600x176.png", (0.36, 0.30, 0.46, 0.30),
     ("image", {"image": "backgrounds/wooden-desk-laptop-dark.jpg"})),
    ("tote-natural-canvas-print.jpg", "matplotlib-logo2-542x130.png", (0.22, 0.45, 0.56, 0.25),
     ("image", {"image": "backgrounds/studio-grey-seamless-empty-crop.jpg"})),
    ("cap-gray-front-alpha.png", "noto-fox-face-512.png", (0.40, 0.18, 0.20, 0.28),
     ("studio", {"colour": "#D9DEE4"})),
    ("beanie-black-alpha.png", "sylius-logo-600x176.png", (0.30, 0.55, 0.40, 0.18),
     ("image", {"image": "backgrounds/paper-yellow-backdrop.jpg"})),
]


class Timer:
    """Collects wall-clock durations per operation name."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = {}

    def run(self, name: str, fn, *args, **kwargs):
        start = time.perf_counter()
        result = fn(*args, **kwargs)
        self.samples.setdefault(name, []).append(time.perf_counter() - start)
        return result

    def report(self) -> str:
        rows = [f"{name:<20} median {1000 * statistics.median(v):7.1f} ms   min {1000 * min(v):7.1f} ms"
                f"   (n={len(v)})" for name, v in self.samples.items()]
        return "\n".join(rows)


def print_corners(alpha_box: tuple[int, int, int, int], frac: tuple[float, float, float, float]):
    x0, y0, x1, y1 = alpha_box
    w, h = x1 - x0, y1 - y0
    return im.rect_to_corners(x0 + frac[0] * w, y0 + frac[1] * h, frac[2] * w, frac[3] * h)


def prepare_product(path: Path, timer: Timer) -> tuple[Image.Image, tuple[int, int, int] | None, float]:
    photo = timer.run("open_image", im.open_image, path)
    if im.has_alpha(photo):
        return photo, None, 1.0
    alpha, confidence = timer.run("auto_cutout", im.auto_cutout, photo)
    backdrop = im.estimate_backdrop(photo)
    return im.apply_alpha(photo, alpha, backdrop=backdrop), backdrop, confidence


def render_case(case, eval_dir: Path, out_dir: Path, size: int, timer: Timer) -> list[tuple[str, Image.Image]]:
    product_file, design_file, frac, (bg_kind, bg_spec) = case
    product, backdrop, confidence = prepare_product(eval_dir / "products" / product_file, timer)
    design = im.open_image(eval_dir / "logos" / design_file)
    box = product.getchannel("A").point(lambda v: 255 if v >= 128 else 0).getbbox()
    corners = print_corners(box, frac)
    dye = timer.run("estimate_dye_mask", im.estimate_dye_mask, product)
    prep = timer.run("prepare_recolour", im.prepare_recolour, product, dye)
    shading = im.luminance_field(product)
    spec = dict(bg_spec)
    if bg_kind == "image":
        spec["image"] = im.open_image(eval_dir / spec["image"])
    background = timer.run(f"bg:{bg_kind}", im.make_background, bg_kind, (size, size), **spec)
    results = []
    for name, hex_colour in COLOURS.items():
        dyed = timer.run("recolour", im.recolour, prep, product, hex_colour)
        printed = timer.run("place_design", im.place_design, dyed, design, corners, shading=shading)
        canvas = timer.run("compose", im.compose, printed, background, (size, size),
                           shadow=bg_spec.get("colour") != "#FFFFFF")
        label = f"{Path(product_file).stem} {name}" + (f" (cut {confidence:.2f})" if backdrop else "")
        canvas.save(out_dir / f"{Path(product_file).stem}-{name}.png")
        results.append((label, canvas))
    return results


def contact_sheet(items: list[tuple[str, Image.Image]], columns: int, tile: int = 300) -> Image.Image:
    rows = (len(items) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * tile, rows * (tile + 22)), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    for i, (label, image) in enumerate(items):
        x, y = (i % columns) * tile, (i // columns) * (tile + 22)
        sheet.paste(image.resize((tile, tile), Image.Resampling.LANCZOS), (x, y))
        draw.text((x + 4, y + tile + 4), label, fill=(20, 20, 20))
    return sheet


def _synthetic_product(size: int) -> Image.Image:
    """A dark mug-like product with a handle on a white backdrop (opaque RGB)."""
    img = Image.new("RGB", (size, size), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    s = size / 1024
    draw.ellipse((170 * s, 330 * s, 470 * s, 640 * s), fill=(40, 60, 140))
    draw.ellipse((240 * s, 400 * s, 400 * s, 570 * s), fill=(255, 255, 255))
    draw.rectangle((350 * s, 220 * s, 820 * s, 820 * s), fill=(40, 60, 140))
    noise = np.random.default_rng(0).normal(0, 2.0, (size, size, 3))
    return Image.fromarray(np.clip(np.asarray(img) + noise, 0, 255).astype(np.uint8)).convert("RGBA")


def _synthetic_garment(size: int) -> tuple[Image.Image, np.ndarray]:
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    mask = (np.abs(xx - size / 2) < size * 0.3) & (yy > size * 0.15) & (yy < size * 0.9)
    shade = 225 * (1 + 0.15 * np.sin(xx / 23.0) * np.cos(yy / 41.0))
    arr = np.zeros((size, size, 4), np.uint8)
    arr[..., :3] = np.clip(shade, 0, 255)[..., None].astype(np.uint8)
    arr[..., 3] = np.where(mask, 255, 0)
    return Image.fromarray(arr, "RGBA"), mask


def bench(repeat: int, size: int = 1024) -> str:
    """Median wall time of every operation on synthetic ``size`` x ``size`` inputs."""
    timer = Timer()
    photo = _synthetic_product(size)
    garment, mask = _synthetic_garment(size)
    logo = Image.new("RGBA", (512, 512), (0, 0, 0, 0))
    ImageDraw.Draw(logo).ellipse((20, 20, 492, 492), fill=(240, 120, 20, 255))
    corners = im.rect_to_corners(size * 0.3, size * 0.25, size * 0.4, size * 0.4)
    png = io.BytesIO()
    photo.save(png, "PNG")
    for _ in range(repeat):
        timer.run("open_image (png)", im.open_image, png.getvalue())
        alpha, _ = timer.run("auto_cutout", im.auto_cutout, photo)
        cut = timer.run("apply_alpha", im.apply_alpha, photo, alpha, backdrop=(255, 255, 255))
        dye = timer.run("estimate_dye_mask", im.estimate_dye_mask, garment)
        prep = timer.run("prepare_recolour", im.prepare_recolour, garment, mask)
        dyed = timer.run("recolour", im.recolour, prep, garment, "#1F2A44")
        printed = timer.run("place_design", im.place_design, dyed, logo, corners)
        for kind, spec in (("solid", {"colour": "#FFFFFF"}), ("linear", {"stops": ["#FFFFFF", "#CCCCCC"]}),
                           ("radial", {}), ("studio", {}), ("image", {"image": photo})):
            bg = timer.run(f"background {kind}", im.make_background, kind, (size, size), **spec)
        timer.run("contact_shadow", im.contact_shadow, alpha)
        canvas = timer.run("compose", im.compose, cut, bg, (size, size))
        timer.run("compose (no shadow)", im.compose, printed, bg, (size, size), shadow=False)
        timer.run("draw_text (badge)", im.draw_text, canvas, "$24.00", size_px=48, badge=True)
        for fmt in ("png", "jpeg", "webp"):
            timer.run(f"encode {fmt}", im.encode, canvas, fmt, metadata={"sku": "BENCH"})
        timer.run("thumbnail", im.thumbnail, canvas)
    del dye
    return timer.report()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, nargs="?")
    parser.add_argument("--eval-dir", type=Path, default=DEFAULT_EVAL_DIR)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--bench", action="store_true", help="time every operation on synthetic inputs")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)
    if args.bench:
        print(bench(args.repeat, args.size))
        return 0
    if args.out_dir is None:
        parser.error("OUT_DIR is required unless --bench is given")
    if not (args.eval_dir / "products").is_dir():
        print(f"evaluation images not found at {args.eval_dir}; nothing to do")
        return 0
    args.out_dir.mkdir(parents=True, exist_ok=True)
    timer, items = Timer(), []
    for case in CASES:
        if not (args.eval_dir / "products" / case[0]).exists():
            print(f"skipping missing {case[0]}")
            continue
        items += render_case(case, args.eval_dir, args.out_dir, args.size, timer)
    contact_sheet(items, len(COLOURS)).save(args.out_dir / "contact-sheet.png")
    print(f"wrote {len(items)} images and contact-sheet.png to {args.out_dir}")
    print(timer.report())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
