"""`--executor dask`: the local compositor's chunks on a real Dask cluster (LocalCluster with worker
processes), outputs byte-identical to the process pool's; a worker killed mid-build has its work
run again."""

from __future__ import annotations

import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from mockups.cli import main
from mockups.engine.pipeline import build

distributed = pytest.importorskip("distributed")

CATALOG = """\
version: 1
channels:
  - {id: web, size: 96x96, format: png}
products:
%s
colours:
  - {id: white, name: White, hex: "#F4F4F2"}
  - {id: navy, name: Navy, hex: "#1F2A44"}
  - {id: red, name: Red, hex: "#B0302A"}
backgrounds:
  - {id: studio, name: Studio, colour: "#EDEDED"}
  - {id: wood, name: Wood, image: assets/wood.png}
designs:
  - {id: logo, name: Logo, image: assets/logo.png}
"""
PRODUCT = """\
  - sku: TEE-%d
    name: Tee %d
    image: assets/tee.png
    print_area: {x: 40, y: 30, width: 48, height: 48}
    designs: [logo]
"""


def _outputs(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted((root / "build").glob("*/*.png"))}


@pytest.fixture
def twins(project, tmp_path):
    """The same 6-product project twice: one built with the process pool, one for Dask."""
    catalog = project(CATALOG % "".join(PRODUCT % (i, i) for i in range(6)))
    other = tmp_path.parent / f"{tmp_path.name}-dask"
    shutil.copytree(catalog.parent, other)
    return catalog, other / "catalog.yaml"


@pytest.fixture
def cluster():
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                      silence_logs=50) as c, Client(c) as client:
        yield c, client


def test_a_local_cluster_makes_byte_identical_outputs(twins, capsys):
    pooled, dasked = twins
    a = build(pooled, jobs=2)
    assert main(["build", str(dasked), "--executor", "dask", "-j", "2"]) == 0
    assert f"{a.built} made, 0 failed" in capsys.readouterr().out
    assert a.built == 36 and _outputs(dasked.parent) == _outputs(pooled.parent)


def test_a_killed_worker_has_its_work_done_again(twins, cluster):
    pooled, dasked = twins
    _, client = cluster
    before = client.run(os.getpid)
    killed = threading.Event()

    def kill_one(event):
        if type(event).__name__ == "JobFinished" and not killed.is_set():
            killed.set()
            os.kill(next(iter(before.values())), signal.SIGKILL)

    report = build(dasked, executor="dask", scheduler=client.scheduler.address, on_event=kill_one)
    assert killed.is_set()
    assert report.built == 36 and not report.failures
    assert _outputs(dasked.parent) == _outputs(build(pooled, jobs=2).prepared.build_dir.parent)
    client.wait_for_workers(2, timeout=30)
    assert set(client.run(os.getpid).values()) != set(before.values())  # the nanny started a new one
