"""PSD template throughput: variants per second at the template's native size, against re-compositing
the whole PSD per variant, measured in the same run.

    python benchmarks/bench_psd.py                # a 1440x1200 template (k=4), 16 variants each way
    python benchmarks/bench_psd.py --k 12 -n 4    # 4320x3600: the large-template case, with peak memory

The template is the mockup the tests build (tests/psd_build.py, scaled by k): a scene, a pixel colour
layer recoloured per variant, a warped smart object, a multiply shading layer above it. Variants cycle
through 2 colours x 2 designs.

- mockups: `Template.render`, the part below the smart object composited once per colour and kept,
  the inverse map built once; per variant one remap and psd-tools' composite of the part above;
- baseline: the same swap of the smart object for the warped design (and the same recolour), then
  psd-tools `composite()` of the whole document, per variant (what the research prototype did).
Peak memory is the process's high-water mark (ru_maxrss) after each part.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from PIL import Image  # noqa: E402

from mockups.backends.psd import Template  # noqa: E402
from tests import psd_build  # noqa: E402

COLOURS = ["#1F2A44", "#B22234"]


def designs(k: int) -> list[Image.Image]:
    size = (psd_build.CONTENT[0] * k, psd_build.CONTENT[1] * k)
    return [Image.new("RGBA", size, (210, 30, 40, 255)), Image.new("RGBA", size, (30, 170, 70, 255))]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ours(path: Path, k: int, n: int) -> tuple[float, float, float]:
    """(seconds to open the template and make its first variant in each colour, variants/s after
    that, variants/s over the whole run including that setup)."""
    start = time.perf_counter()
    template = Template(path, "Design", "Colour", "cover")
    pictures = designs(k)
    for colour in COLOURS:
        template.render(pictures[0], colour)
    setup = time.perf_counter() - start
    steady = time.perf_counter()
    for i in range(n):
        template.render(pictures[i % 2], COLOURS[(i // 2) % 2])
    end = time.perf_counter()
    return setup, n / (end - steady), (n + len(COLOURS)) / (end - start)


def baseline(path: Path, k: int, n: int) -> float:
    from psd_tools.composite import composite

    template = Template(path, "Design", "Colour", "cover")
    pictures = designs(k)
    start = time.perf_counter()
    for i in range(n):
        template._set_colour(COLOURS[(i // 2) % 2])
        template._put_design(pictures[i % 2])
        composite(template.psd, layer_filter=lambda layer: layer.is_visible())
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--k", type=int, default=4, help="scale of the template (k=1: 360x300)")
    parser.add_argument("-n", type=int, default=16, help="variants each way")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = psd_build.build_mockup(Path(tmp) / "tee.psd", k=args.k)
        w, h = psd_build.SIZE[0] * args.k, psd_build.SIZE[1] * args.k
        print(f"template {w}x{h}, {args.n} variants each way (2 colours x 2 designs)")
        setup, fast, overall = ours(path, args.k, args.n)
        print(f"mockups : {fast:6.2f} variants/s once each colour's backdrop is made ({setup:.1f} s to open the "
              f"template and make the first variant of each of {len(COLOURS)} colours; {overall:.2f} variants/s "
              f"overall)   (peak {peak_mb():.0f} MB)")
        slow = baseline(path, args.k, args.n)
        print(f"baseline: {slow:6.2f} variants/s   (peak {peak_mb():.0f} MB)")
        print(f"ratio   : {fast / slow:.2f}x per variant, {overall / slow:.2f}x overall")


if __name__ == "__main__":
    main()
