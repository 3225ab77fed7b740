"""Several writers on one registry at once (SQLite, PostgreSQL): ingest and certification do not lock out."""

import concurrent.futures
from pathlib import Path

import numpy as np
import pytest
from lsst.daf.butler import Butler, DatasetType
from test_repository import write_test_raw

from fixtures.repositories import new_repository
from fixtures.timeouts import STD_TIMEOUT
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.ingest import ingest_raws
from lsst.ts.calibrations.repo.repository import RAW_RUN
from postgres_fixture import BOTH_REGISTRIES


@pytest.mark.slow
@BOTH_REGISTRIES
def test_parallel_writers_do_not_lock(tmp_path: Path, registry_db: str, empty_repository: Path) -> None:
    root = tmp_path / "repo"
    with new_repository(empty_repository, root, registry_db=registry_db) as butler:
        butler.registry.registerDatasetType(
            DatasetType(
                "bias",
                ("instrument", "detector"),
                "ComCamExposure",
                universe=butler.dimensions,
                isCalibration=True,
            )
        )
    raws = tmp_path / "raws"
    raws.mkdir()
    # Four writers, each ingesting one exposure's detectors one file at a time;
    # the writers of one exposure share its records.
    batches = [
        [write_test_raw(raws, 40 + w // 2, d) for d in range(3 * (w % 2), 3 * (w % 2) + 3)] for w in range(4)
    ]

    def ingest(paths: list[Path]) -> int:
        with Butler.from_config(str(root), writeable=True) as writer:
            for path in paths:
                ingest_raws(writer, [path])
        return len(paths)

    def certify(index: int) -> int:
        with Butler.from_config(str(root), writeable=True) as writer:
            run = f"u/ocps/{index}"
            writer.collections.register(run)
            for det in range(9):
                writer.put(Exposure(np.zeros((4, 4))), "bias", instrument="LSSTComCam", detector=det, run=run)
            return len(
                certify_calibrations(
                    writer, run, f"LSSTComCam/calib/{index}", "bias", "2024-10-24", "2024-10-25"
                )
            )

    def read(count: int) -> int:
        with Butler.from_config(str(root)) as reader:
            for _ in range(count):
                reader.query_datasets("raw", collections=RAW_RUN, explain=False, limit=None)
        return count

    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(ingest, batch) for batch in batches]
        futures += [pool.submit(certify, i) for i in range(2)]
        futures += [pool.submit(read, 10) for _ in range(2)]
        results = [f.result(timeout=STD_TIMEOUT) for f in futures]
    assert results == [3, 3, 3, 3, 9, 9, 10, 10]
    with Butler.from_config(str(root)) as butler:
        assert len(butler.query_datasets("raw", collections=RAW_RUN)) == 12
        assert len(butler.query_dimension_records("exposure")) == 2
