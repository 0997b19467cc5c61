"""Scaling out, timed as a user times it (whole `mockups build` commands, fresh processes, medians
of several runs, every ratio measured in the same run), on the 240-variant catalog of
bench_command.py (5 products x 8 colours x 6 backgrounds at 1024x1024 JPEG):

- remote: runner A builds with `--cache URL`, then runner B, another checkout with its own empty
  local cache, builds the same catalog: B's time against A's, and A's against a build without a
  shared cache. Twice: with `s3://` (an S3 API: moto's server, which runs in this benchmark's
  process, so on 2 cores its CPU competes with the build's workers: a real S3 costs the build
  none) and with `file://` (no server at all). Also the S3 requests each build sent, by kind
  (LIST, GET, PUT, HEAD), counted by the server: listings, not a request per variant.
- dask: a fresh build on a 2-worker Dask LocalCluster (`--executor dask -j 2`, the cluster's start
  included) against the process pool (`-j 2`).

    python benchmarks/bench_scale.py                 # both (about 4 minutes on 2 cores)
    python benchmarks/bench_scale.py remote --runs 5
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))

from bench_command import timed, write_whole  # noqa: E402

MOCKUPS = [sys.executable, "-m", "mockups"]
REQUEST_RE = re.compile(r'"(GET|PUT|HEAD|POST|DELETE) (\S+) HTTP')


class _Requests(logging.Handler):
    """Counts the S3 requests moto's server logs (werkzeug's access lines)."""

    def __init__(self):
        super().__init__()
        self.seen: Counter = Counter()

    def emit(self, record: logging.LogRecord) -> None:
        m = REQUEST_RE.search(record.getMessage())
        if m:
            method, path = m.groups()
            self.seen["LIST" if method == "GET" and "list-type=" in path else method] += 1


def _checkout(template: Path, root: Path) -> Path:
    shutil.copytree(template, root)
    return root / "catalog.yaml"


def remote(runs: int, work: Path) -> None:
    from moto.server import ThreadedMotoServer

    counter = _Requests()
    logging.getLogger("werkzeug").addHandler(counter)
    logging.getLogger("werkzeug").setLevel(logging.INFO)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    env = {**os.environ, "AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench",
           "AWS_DEFAULT_REGION": "us-east-1"}
    os.environ.update(env)
    import boto3

    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket="bench")
    template = work / "template"
    write_whole(template)
    local: list[float] = []
    first: dict[str, list[float]] = {"s3": [], "file": []}
    second: dict[str, list[float]] = {"s3": [], "file": []}
    requests: dict[str, dict] = {}
    try:
        for run in range(runs):
            plain = _checkout(template, work / f"plain{run}")
            local.append(timed([*MOCKUPS, "build", str(plain), "--no-gallery"], plain.parent)[0])
            for kind, name in (("s3", "A"), ("s3", "B"), ("file", "A"), ("file", "B")):
                url = f"s3://bench/run{run}" if kind == "s3" else (work / f"shared{run}").as_uri()
                times = (first if name == "A" else second)[kind]
                catalog = _checkout(template, work / f"{kind}{name}{run}")
                counter.seen.clear()
                seconds, _, out = timed([*MOCKUPS, "build", str(catalog), "--no-gallery", "--cache", url],
                                        catalog.parent)
                times.append(seconds)
                if kind == "s3":
                    requests[name] = dict(counter.seen)
                if name == "B" and " 0 made" not in out:
                    raise SystemExit(f"runner B made variants:\n{out}")
    finally:
        server.stop()
    c = statistics.median(local)
    print(f"remote cache, 240 variants at 1024x1024 JPEG, medians of {runs}:")
    print(f"  no shared cache              {c:6.2f} s")
    for kind in ("s3", "file"):
        a, b = statistics.median(first[kind]), statistics.median(second[kind])
        print(f"  {kind + '://':7} runner A (fills it) {a:6.2f} s   {a / c:5.2f}x the time of no shared cache")
        print(f"  {kind + '://':7} runner B (reads it) {b:6.2f} s   {b / a:5.3f}x runner A's time ({a / b:.1f}x "
              f"faster); 0 made")
    for name in ("A", "B"):
        seen = requests[name]
        total = sum(seen.values())
        print(f"  S3 requests, runner {name}: {total} ({', '.join(f'{k} {v}' for k, v in sorted(seen.items()))}); "
              f"{total / 240:.2f} per variant, {seen.get('LIST', 0)} listing")


def dask(runs: int, work: Path) -> None:
    template = work / "template-dask"
    write_whole(template)
    pool, cluster = [], []
    for run in range(runs):
        for times, extra in ((pool, []), (cluster, ["--executor", "dask"])):
            catalog = _checkout(template, work / f"{'dask' if extra else 'pool'}{run}")
            times.append(timed([*MOCKUPS, "build", str(catalog), "--no-gallery", "-j", "2", *extra],
                               catalog.parent)[0])
    p, d = statistics.median(pool), statistics.median(cluster)
    print(f"dask, 240 variants at 1024x1024 JPEG, fresh builds, medians of {runs}:")
    print(f"  process pool, 2 workers        {p:6.2f} s  {240 / p:5.1f} variants/s")
    print(f"  Dask LocalCluster, 2 workers   {d:6.2f} s  {240 / d:5.1f} variants/s  ({p / d:.2f}x the pool's rate)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", nargs="*", metavar="remote|dask", help="which figures (default: both)")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="mockups-bench-scale-") as tmp:
        for which in args.which or ["remote", "dask"]:
            if which not in ("remote", "dask"):
                ap.error(f"unknown figure '{which}': remote or dask")
            {"remote": remote, "dask": dask}[which](args.runs, Path(tmp))


if __name__ == "__main__":
    main()
