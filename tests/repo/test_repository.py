"""The LSSTComCam butler repository: bootstrap, open, ingest, formatters and certification."""

import datetime
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import astropy.time
import numpy as np
import pytest
from lsst.daf.butler import Butler, CollectionType, DatasetType, Timespan
from lsst.daf.butler.registry import ConflictingDefinitionError

from fixtures.repositories import new_repository
from lsst.ts.calibrations.repo.camera import AMP_NAMES, REDUCED_GEOMETRY, Camera
from lsst.ts.calibrations.repo.certify import certify_calibrations
from lsst.ts.calibrations.repo.defects import Defects
from lsst.ts.calibrations.repo.errors import CertificationConflictError, IngestError, RepositoryError
from lsst.ts.calibrations.repo.images import Exposure
from lsst.ts.calibrations.repo.ingest import ingest_raws, read_exposure_records
from lsst.ts.calibrations.repo.instrument import EMPTY_FILTER
from lsst.ts.calibrations.repo.ptc_dataset import PhotonTransferCurveDataset
from lsst.ts.calibrations.repo.raw import RawImage, make_header, read_raw, write_raw
from lsst.ts.calibrations.repo.repo_alias import INDEX_ENV_VAR, REPOSITORIES_ENV_VAR, install_repository_alias
from lsst.ts.calibrations.repo.repository import (
    CALIB_CHAIN,
    CERTIFIED_COLLECTION,
    RAW_RUN,
    bootstrap_repository,
    open_repository,
)
from postgres_fixture import BOTH_REGISTRIES

DAY_OBS = 20241024


def exposure_id(seq_num: int) -> int:
    return DAY_OBS * 100_000 + seq_num


def write_test_raw(
    directory: Path,
    seq_num: int,
    detector: int,
    *,
    imgtype: str = "BIAS",
    exptime: float = 0.0,
    filter_name: str = "",
    extra: dict | None = None,
) -> Path:
    """Write a reduced-geometry raw as the camera would."""
    rng = np.random.default_rng(1000 * seq_num + detector)
    start = astropy.time.Time("2024-10-24T20:00:00", scale="tai") + seq_num * 10 * astropy.units.s
    values = {
        "INSTRUME": "LSSTComCam",
        "DETECTOR": detector,
        "IMGTYPE": imgtype,
        "EXPTIME": exptime,
        "DARKTIME": exptime,
        "DATE-OBS": start.isot,
        "DATE-END": (start + exptime * astropy.units.s).isot,
        "OBSID": f"CC_O_{DAY_OBS}_{seq_num:06d}",
        "DAYOBS": str(DAY_OBS),
        "SEQNUM": seq_num,
        "FILTER": filter_name,
        "GROUPID": f"2024-10-24T19:59:00.{seq_num // 10:03d}",
        "PROGRAM": "BLOCK-T123",
        "REASON": imgtype.lower(),
    }
    values.update(extra or {})
    amps = {
        name: rng.integers(19_000, 21_000, REDUCED_GEOMETRY.raw_shape, dtype=np.int32) for name in AMP_NAMES
    }
    path = directory / f"raw_{seq_num:06d}_{detector}.fits"
    write_raw(path, RawImage(make_header(values), amps, REDUCED_GEOMETRY))
    return path


def tree_snapshot(path: Path) -> dict[str, tuple[int, float]]:
    return {str(p.relative_to(path)): (p.stat().st_size, p.stat().st_mtime) for p in sorted(path.rglob("*"))}


@pytest.fixture
def repo(tmp_path: Path, registry_db: str | None, empty_repository: Path) -> Iterator[Butler]:
    """A new repository at ``tmp_path / "repo"`` (on SQLite a copy of the session's empty one)."""
    butler = new_repository(empty_repository, tmp_path / "repo", registry_db=registry_db)
    yield butler
    butler.close()


def test_bootstrap_creates_and_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    butler = bootstrap_repository(root, registry_db="")
    assert butler.run == RAW_RUN
    assert [r.name for r in butler.query_dimension_records("instrument")] == ["LSSTComCam"]
    detectors = butler.query_dimension_records("detector", order_by="detector")
    assert [d.full_name for d in detectors] == [d.name for d in Camera.instance().detectors]
    assert (
        detectors[4].raft == "R22"
        and detectors[4].name_in_raft == "S11"
        and detectors[4].purpose == "SCIENCE"
    )
    filters = {r.name: r.band for r in butler.query_dimension_records("physical_filter")}
    assert filters[EMPTY_FILTER] == "white" and filters["r_03"] == "r"
    assert butler.get_dataset_type("raw").storageClass_name == "ComCamRawImage"
    assert butler.collections.get_info(RAW_RUN).type == CollectionType.RUN
    chain = butler.collections.get_info(CALIB_CHAIN)
    assert chain.type == CollectionType.CHAINED and chain.children == (CERTIFIED_COLLECTION,)
    assert butler.collections.get_info(CERTIFIED_COLLECTION).type == CollectionType.CALIBRATION
    # The registry is in write-ahead-log mode (persistent in the file).
    with sqlite3.connect(root / "gen3.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    butler.close()
    # A user-changed chain survives a second bootstrap.
    butler = bootstrap_repository(root)
    butler.collections.register("LSSTComCam/calib/20241024", CollectionType.CALIBRATION)
    butler.collections.prepend_chain(CALIB_CHAIN, "LSSTComCam/calib/20241024")
    butler.close()
    again = bootstrap_repository(root)
    assert again.collections.get_info(CALIB_CHAIN).children == (
        "LSSTComCam/calib/20241024",
        CERTIFIED_COLLECTION,
    )
    assert len(again.query_dimension_records("detector")) == 9
    with pytest.raises(RepositoryError, match="already exists"):
        bootstrap_repository(root, exist_ok=False)
    again.close()


def test_bootstrap_and_open_refuse_foreign_paths(tmp_path: Path) -> None:
    not_repo = tmp_path / "data"
    not_repo.mkdir()
    (not_repo / "notes.txt").write_text("not a repository")
    a_file = tmp_path / "file.fits"
    a_file.write_bytes(b"SIMPLE")
    other = tmp_path / "other"
    Butler.makeRepo(str(other))
    with Butler.from_config(str(other), writeable=True) as butler:
        butler.registry.insertDimensionData(
            "instrument",
            {"name": "LATISS", "visit_max": 1, "exposure_max": 1, "detector_max": 1, "class_name": "x.Y"},
        )
    for path, message in (
        (not_repo, "is not a butler repository"),
        (a_file, "not a directory"),
        (other, "holds instrument.*LATISS"),
    ):
        before = tree_snapshot(path) if path.is_dir() else a_file.read_bytes()
        with pytest.raises(RepositoryError, match=message) as info:
            bootstrap_repository(path)
        assert str(path) in str(info.value)
        after = tree_snapshot(path) if path.is_dir() else a_file.read_bytes()
        assert after == before
    for path, message in (
        (not_repo, "is not a butler repository"),
        (a_file, "is a file"),
        (other, "holds instrument.*LATISS"),
        (tmp_path / "missing" / "repo", "does not exist"),
    ):
        with pytest.raises(RepositoryError, match=message) as info:
            open_repository(path)
        assert str(path) in str(info.value)
    with pytest.raises(RepositoryError, match="not a repository path nor a known alias"):
        open_repository("no-such-alias")
    assert not (tmp_path / "missing").exists()


def test_open_repository(repo: Butler, tmp_path: Path) -> None:
    root = tmp_path / "repo"
    with open_repository(root, collections=[CALIB_CHAIN]) as butler:
        assert not butler.isWriteable()
    with open_repository(str(root / "butler.yaml"), writeable=True) as butler:
        assert butler.isWriteable()
    empty = tmp_path / "empty"
    Butler.makeRepo(str(empty))
    with pytest.raises(RepositoryError, match="has no LSSTComCam instrument"):
        open_repository(empty)


def test_open_repository_by_alias(repo: Butler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The script's default repo, /repo/LSSTComCam, is a label of the repository index.
    for name in (REPOSITORIES_ENV_VAR, INDEX_ENV_VAR):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    install_repository_alias(tmp_path / "repo", index_path=tmp_path / "index.yaml")
    with open_repository("/repo/LSSTComCam") as butler:
        assert butler.registry.queryDimensionRecords("instrument").any()
    with pytest.raises(RepositoryError, match="does not exist"):
        open_repository("/repo/LSSTCam")


@BOTH_REGISTRIES
def test_ingest_records(repo: Butler, tmp_path: Path) -> None:
    bias = [write_test_raw(tmp_path, 1, det) for det in (0, 1)]
    flat = write_test_raw(
        tmp_path,
        12,
        0,
        imgtype="FLAT",
        exptime=5.0,
        filter_name="r_03",
        extra={"RA": 10.5, "ELSTART": 60.0, "OBJECT": "FlatField position"},
    )
    refs = ingest_raws(repo, [*bias, flat])
    assert [ref.dataId["exposure"] for ref in refs] == [exposure_id(1), exposure_id(1), exposure_id(12)]
    assert [ref.dataId["detector"] for ref in refs] == [0, 1, 0]
    assert all(ref.run == RAW_RUN for ref in refs)
    records = {r.id: r for r in repo.query_dimension_records("exposure")}
    b = records[exposure_id(1)]
    assert b.obs_id == "CC_O_20241024_000001" and b.observation_type == "bias"
    assert b.exposure_time == 0.0 and b.physical_filter == EMPTY_FILTER and b.day_obs == DAY_OBS
    assert b.group == "2024-10-24T19:59:00.000" and b.science_program == "BLOCK-T123"
    assert b.can_see_sky is False and b.seq_num == 1
    # A 0 s bias gets a non-empty timespan.
    assert b.timespan.end > b.timespan.begin
    f = records[exposure_id(12)]
    assert f.observation_type == "flat" and f.physical_filter == "r_03" and f.tracking_ra == 10.5
    assert f.zenith_angle == pytest.approx(30.0) and f.target_name == "FlatField position"
    assert (f.timespan.end - f.timespan.begin).sec == pytest.approx(5.0)
    (day,) = repo.query_dimension_records("day_obs")
    assert day.timespan.begin.tai.isot.startswith("2024-10-24T12:00:00.000")
    raw = repo.get("raw", instrument="LSSTComCam", exposure=exposure_id(12), detector=0, collections=RAW_RUN)
    assert isinstance(raw, RawImage) and raw.geometry == REDUCED_GEOMETRY
    np.testing.assert_array_equal(raw.amp_data["C10"], read_raw(flat).amp_data["C10"])
    # "direct" leaves the file where it is.
    assert repo.getURI(refs[2]).ospath == str(flat)


@BOTH_REGISTRIES
def test_ingest_is_idempotent(repo: Butler, tmp_path: Path) -> None:
    paths = [write_test_raw(tmp_path, 3, det) for det in range(3)]
    first = ingest_raws(repo, paths, transfer="copy")
    second = ingest_raws(repo, paths, transfer="copy")
    assert [r.id for r in first] == [r.id for r in second]
    assert len(repo.query_datasets("raw", collections=RAW_RUN)) == 3
    assert len(repo.query_dimension_records("exposure")) == 1
    assert ingest_raws(repo, []) == []
    with pytest.raises(ValueError, match="transfer='teleport' is not supported"):
        ingest_raws(repo, paths, transfer="teleport")


@BOTH_REGISTRIES
def test_ingest_bad_files_write_nothing(repo: Butler, tmp_path: Path) -> None:
    good = write_test_raw(tmp_path, 5, 0)
    truncated = write_test_raw(tmp_path, 6, 0)
    truncated.write_bytes(truncated.read_bytes()[:50_000])
    not_fits = tmp_path / "notes.fits"
    not_fits.write_text("this is not FITS")
    foreign = write_test_raw(tmp_path, 7, 0, extra={"INSTRUME": "LATISS"})
    bad_filter = write_test_raw(tmp_path, 8, 0, extra={"FILTER": "SDSSr"})
    duplicate_dir = tmp_path / "dup"
    duplicate_dir.mkdir()
    duplicate = write_test_raw(duplicate_dir, 5, 0)
    cases = [
        (truncated, "corrupt"),
        (not_fits, "not a readable FITS"),
        (foreign, "LATISS"),
        (bad_filter, "FILTER='SDSSr'"),
        (duplicate, "are both exposure"),
    ]
    for bad, message in cases:
        with pytest.raises(IngestError, match=message) as info:
            ingest_raws(repo, [good, bad])
        assert str(bad) in str(info.value)
        assert repo.query_datasets("raw", collections=RAW_RUN, explain=False) == []
        assert repo.query_dimension_records("exposure", explain=False) == []
    # A header that contradicts the exposure already registered.
    ingest_raws(repo, [good])
    conflicting = write_test_raw(duplicate_dir, 5, 1, extra={"EXPTIME": 3.0})
    with pytest.raises(IngestError, match="exposure record differs"):
        ingest_raws(repo, [conflicting])
    assert len(repo.query_datasets("raw", collections=RAW_RUN)) == 1
    with pytest.raises(IngestError, match="not a readable FITS"):
        read_exposure_records(not_fits)
    detector, records = read_exposure_records(good)
    assert detector == 0 and records["exposure"]["id"] == exposure_id(5)


def _register(
    butler: Butler, name: str, dimensions: tuple[str, ...], storage_class: str, is_calibration: bool = False
) -> None:
    butler.registry.registerDatasetType(
        DatasetType(name, dimensions, storage_class, universe=butler.dimensions, isCalibration=is_calibration)
    )


def test_formatters_round_trip(repo: Butler, tmp_path: Path) -> None:
    ingest_raws(repo, [write_test_raw(tmp_path, 1, 2)])
    rng = np.random.default_rng(3)
    shape = REDUCED_GEOMETRY.detector_shape
    exposure = Exposure(
        rng.normal(0.0, 5.0, shape).astype(np.float32),
        rng.integers(0, 16, shape, dtype=np.int32),
        rng.uniform(20.0, 30.0, shape).astype(np.float32),
        {
            "LSST ISR GAIN C10": 1.31,
            "EXPTIME": 0.0,
            "IMGTYPE": "BIAS",
            "lowerCase": "kept",
            "FLAG": True,
            "LONG": "x" * 200,
            "NAN": float("nan"),
        },
    )
    defects = Defects([(3, 0, 1, shape[0]), (10, 20, 2, 2)], shape, {"DETECTOR": 2})
    ptc = PhotonTransferCurveDataset(AMP_NAMES, ptcFitType="", units={"noise": "adu"})
    ptc.gain["C10"] = 1.3
    ptc.inputExpIdPairs["C10"] = [(exposure_id(1), exposure_id(2))]
    _register(repo, "cpBiasIsrExp", ("instrument", "exposure", "detector"), "ComCamExposure")
    _register(repo, "defects", ("instrument", "detector"), "ComCamDefects", True)
    _register(repo, "cpPtcExtract", ("instrument", "exposure", "detector"), "ComCamPtcDataset")
    data_id = {"instrument": "LSSTComCam", "exposure": exposure_id(1), "detector": 2}
    run = "u/test/formatters"
    repo.collections.register(run)
    exp_ref = repo.put(exposure, "cpBiasIsrExp", data_id, run=run)
    def_ref = repo.put(defects, "defects", instrument="LSSTComCam", detector=2, run=run)
    ptc_ref = repo.put(ptc, "cpPtcExtract", data_id, run=run)
    back = repo.get(exp_ref)
    assert back.image.array.dtype == np.dtype("float32") and back.image.array.dtype.isnative
    assert back.mask.array.dtype.isnative and back.variance.array.dtype.isnative
    np.testing.assert_array_equal(back.getImage().getArray(), exposure.image.array)
    np.testing.assert_array_equal(back.mask.array, exposure.mask.array)
    np.testing.assert_array_equal(back.variance.array, exposure.variance.array)
    assert back.metadata["LSST ISR GAIN C10"] == 1.31 and back.metadata["lowerCase"] == "kept"
    assert back.metadata["FLAG"] is True and back.metadata["LONG"] == "x" * 200
    assert np.isnan(back.metadata["NAN"])
    assert repo.get(def_ref) == defects
    assert repo.get(ptc_ref) == ptc
    assert repo.getURI(ptc_ref).getExtension() == ".json"
    # Files readable by plain astropy: PRIMARY metadata cards and named planes.
    from astropy.io import fits

    with fits.open(repo.getURI(exp_ref).ospath) as hdul:
        assert [h.name for h in hdul][:4] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE"]
        assert hdul[0].header["IMGTYPE"] == "BIAS"
        assert hdul[0].header["LSST ISR GAIN C10"] == 1.31


def test_defects_ecsv_read(tmp_path: Path) -> None:
    from astropy.table import Table

    from lsst.ts.calibrations.repo.formatters import DefectsFormatter

    table = Table({"x0": [1, 5], "y0": [2, 0], "width": [1, 1], "height": [1, 8]})
    table.meta.update({"NROWS": 8, "NCOLS": 9, "DETECTOR": 1})
    path = tmp_path / "defects.ecsv"
    table.write(path, format="ascii.ecsv")
    defects = DefectsFormatter.read_from_local_file(object.__new__(DefectsFormatter), str(path))
    assert defects == Defects([(1, 2, 1, 1), (5, 0, 1, 8)], (8, 9), {"DETECTOR": 1})


def _make_bias(repo: Butler, run: str, detectors: tuple[int, ...], value: float) -> None:
    repo.collections.register(run)
    for det in detectors:
        repo.put(
            Exposure(np.full((4, 6), value), metadata={"DETECTOR": det}),
            "bias",
            instrument="LSSTComCam",
            detector=det,
            run=run,
        )


@BOTH_REGISTRIES
def test_certify_and_lookup_by_exposure(repo: Butler, tmp_path: Path) -> None:
    ingest_raws(repo, [write_test_raw(tmp_path, 1, 0), write_test_raw(tmp_path, 2, 1)])
    _register(repo, "bias", ("instrument", "detector"), "ComCamExposure", True)
    _make_bias(repo, "u/ocps/1", (0, 1), 7.0)
    calib = "LSSTComCam/calib/DM-1/bias"
    refs = certify_calibrations(repo, "u/ocps/1", calib, "bias", datetime.date(2024, 10, 24), "2024-10-25")
    assert sorted(ref.dataId["detector"] for ref in refs) == [0, 1]
    assert repo.collections.get_info(calib).type == CollectionType.CALIBRATION
    # Certifying the same datasets with the same range again is a no-op.
    certify_calibrations(
        repo, ["u/ocps/1"], calib, "bias", "2024-10-24", astropy.time.Time("2024-10-25", scale="tai")
    )
    with Butler.from_config(str(tmp_path / "repo"), collections=[calib]) as reader:
        bias = reader.get("bias", detector=0, exposure=exposure_id(1), instrument="LSSTComCam")
        assert isinstance(bias, Exposure) and bias.metadata["DETECTOR"] == 0
        assert float(bias.image.array[0, 0]) == 7.0
        # Outside the validity range, nothing is found.
        later = Timespan(
            astropy.time.Time("2024-11-01", scale="tai"), astropy.time.Time("2024-11-02", scale="tai")
        )
        assert reader.find_dataset("bias", detector=0, instrument="LSSTComCam", timespan=later) is None


@BOTH_REGISTRIES
def test_certify_overlap_detected_before_writing(repo: Butler) -> None:
    _register(repo, "bias", ("instrument", "detector"), "ComCamExposure", True)
    _make_bias(repo, "u/ocps/1", (0, 1), 1.0)
    _make_bias(repo, "u/ocps/2", (1, 2), 2.0)
    calib = "LSSTComCam/calib/bias"
    certify_calibrations(repo, "u/ocps/1", calib, "bias", "2024-10-24", "2024-10-26")
    before = sorted(
        (str(a.ref.dataId), str(a.timespan))
        for a in repo.registry.queryDatasetAssociations("bias", collections=[calib])
    )
    with pytest.raises(CertificationConflictError) as info:
        certify_calibrations(repo, "u/ocps/2", calib, "bias", "2024-10-25", "2024-10-27")
    error = info.value
    assert isinstance(error, ConflictingDefinitionError) and isinstance(error, ValueError)
    assert "detector: 1" in str(error) and "2024-10-24T00:00:00.000" in str(error)
    assert "detector: 2" not in str(error)  # no conflict for detector 2
    assert [c[0] for c in error.conflicts] == ["{instrument: 'LSSTComCam', detector: 1}"]
    after = sorted(
        (str(a.ref.dataId), str(a.timespan))
        for a in repo.registry.queryDatasetAssociations("bias", collections=[calib])
    )
    assert after == before  # detector 2 was not certified either
    # Adjacent ranges do not overlap ([begin, end) is half-open).
    certify_calibrations(repo, "u/ocps/2", calib, "bias", "2024-10-26", "2024-10-27")


@BOTH_REGISTRIES
def test_certify_bad_arguments(repo: Butler) -> None:
    _register(repo, "bias", ("instrument", "detector"), "ComCamExposure", True)
    _make_bias(repo, "u/ocps/1", (0,), 1.0)
    with pytest.raises(ValueError, match="must be before end"):
        certify_calibrations(repo, "u/ocps/1", "calib", "bias", "2024-10-25", "2024-10-24")
    with pytest.raises(ValueError, match="begin='yesterday' is not a valid date"):
        certify_calibrations(repo, "u/ocps/1", "calib", "bias", "yesterday", "2024-10-24")
    with pytest.raises(ValueError, match="is a RUN collection"):
        certify_calibrations(repo, "u/ocps/1", RAW_RUN, "bias", "2024-10-24", "2024-10-25")
    with pytest.raises(LookupError, match="No 'bias' datasets"):
        certify_calibrations(repo, RAW_RUN, "calib", "bias", "2024-10-24", "2024-10-25")
    assert "calib" not in repo.collections.query("*")
