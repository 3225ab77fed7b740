# This file is part of ts_calibrations.
#
# Developed for the Vera C. Rubin Observatory Telescope and Site Systems.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""Processed images written with lossless FITS tile compression: bit-exact, smaller, recipe-driven."""

import gzip
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from astropy.io import fits
from lsst.daf.butler import Butler, Config, DatasetType

from fixtures.repositories import new_repository
from lsst.ts.calibrations.repo.camera import REDUCED_GEOMETRY
from lsst.ts.calibrations.repo.fits_compression import FitsCompression, read_plane
from lsst.ts.calibrations.repo.formatters import ExposureFormatter
from lsst.ts.calibrations.repo.images import MASK_PLANES, Exposure
from lsst.ts.calibrations.repo.repository import SEED_CONFIG, bootstrap_repository

RUN = "u/test/compression"
DATA_ID = {"instrument": "LSSTComCam", "detector": 1}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, empty_repository: Path) -> Iterator[Butler]:
    """A new repository with a calibration-like ComCamExposure dataset type."""
    with new_repository(empty_repository, tmp_path_factory.mktemp("compression") / "repo") as butler:
        butler.registry.registerDatasetType(
            DatasetType(
                "cpTestImage", ("instrument", "detector"), "ComCamExposure", universe=butler.dimensions
            )
        )
        butler.collections.register(RUN)
        yield butler


def register_test_type(butler: Butler) -> None:
    dimensions = ("instrument", "detector")
    butler.registry.registerDatasetType(
        DatasetType("cpTestImage", dimensions, "ComCamExposure", universe=butler.dimensions)
    )


def processed_exposure(seed: int = 5) -> Exposure:
    """A reduced-geometry processed image as ISR writes it: noisy float planes, sparse mask."""
    rng = np.random.default_rng(seed)
    shape = REDUCED_GEOMETRY.detector_shape
    gain, read_noise = 1.3, 8.0
    image = (rng.normal(0.0, read_noise, shape) + rng.poisson(200.0, shape) - 200.0).astype(np.float32)
    # Values a float plane must keep exactly: NaN, infinities, signed zero, subnormal, extremes.
    specials = [np.nan, np.inf, -np.inf, -0.0, 0.0, 1e-45, 3.4e38, -3.4e38]
    image[0, : len(specials)] = specials
    mask = np.zeros(shape, dtype=np.int32)
    mask[:, 17] = MASK_PLANES["BAD"]
    mask[rng.random(shape) < 1e-3] |= MASK_PLANES["CR"]
    mask[5, 5] = -(2**31)
    variance = (np.abs(image) / gain + (read_noise / gain) ** 2).astype(np.float32)
    variance[1, 0] = np.nan
    return Exposure(image, mask, variance, {"IMGTYPE": "FLAT", "LSST ISR GAIN C10": gain})


def assert_bit_exact(back: Exposure, exposure: Exposure) -> None:
    for plane in ("image", "mask", "variance"):
        original = getattr(exposure, plane).array
        read = getattr(back, plane).array
        assert read.dtype == original.dtype and read.dtype.isnative, plane
        assert read.shape == original.shape, plane
        assert read.tobytes() == original.tobytes(), f"{plane} differs after a round trip"


def test_put_get_bit_exact_and_compressed(repo: Butler) -> None:
    """The default recipe writes tile-compressed planes that read back bit for bit, smaller."""
    exposure = processed_exposure()
    ref = repo.put(exposure, "cpTestImage", DATA_ID, run=RUN)
    back = repo.get(ref)
    assert_bit_exact(back, exposure)
    assert back.metadata["LSST ISR GAIN C10"] == 1.3
    path = Path(repo.getURI(ref).ospath)
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "IMAGE", "MASK", "VARIANCE", "METADATA"]
        kinds = {h.name: (type(h).__name__, h.compression_type) for h in hdul[1:4]}
        assert kinds == {
            "IMAGE": ("CompImageHDU", "GZIP_1"),
            "MASK": ("CompImageHDU", "RICE_1"),
            "VARIANCE": ("CompImageHDU", "GZIP_1"),
        }
        assert hdul["MASK"].header["MP_BAD"] == 0
    uncompressed = sum(getattr(exposure, p).array.nbytes for p in ("image", "mask", "variance"))
    assert path.stat().st_size < 0.75 * uncompressed


def test_no_quantization_cards(repo: Butler) -> None:
    """The compressed float planes carry no quantization (ZQUANTIZ/ZSCALE): raw bytes are GZIPped."""
    ref = repo.put(processed_exposure(6), "cpTestImage", {**DATA_ID, "detector": 2}, run=RUN)
    with fits.open(repo.getURI(ref).ospath, disable_image_compression=True) as hdul:
        for name in ("IMAGE", "VARIANCE"):
            table = hdul[name]
            assert table.header["ZBITPIX"] == -32
            assert "ZQUANTIZ" not in table.header
            assert "ZSCALE" not in table.columns.names and "ZZERO" not in table.columns.names


@pytest.mark.parametrize("level", [1, 9])
def test_gzip_levels_round_trip(level: int, tmp_path: Path) -> None:
    """Every GZIP level is lossless; a higher one is not larger."""
    exposure = processed_exposure(9)
    sizes = []
    for tile_rows in (7, 64):
        compression = FitsCompression(tile_rows=tile_rows, gzip_level=level)
        path = tmp_path / f"level{level}_{tile_rows}.fits"
        fits.HDUList(
            [
                fits.PrimaryHDU(),
                compression.hdu("image", exposure.image.array),
                compression.hdu("mask", exposure.mask.array),
                compression.hdu("variance", exposure.variance.array),
            ]
        ).writeto(path)
        back = ExposureFormatter.read_from_local_file(object.__new__(ExposureFormatter), str(path))
        assert_bit_exact(back, exposure)
        sizes.append(path.stat().st_size)
    assert min(sizes) < 0.6 * sum(getattr(exposure, p).array.nbytes for p in ("image", "mask", "variance"))


@pytest.mark.parametrize("writer", ["level 1", "level 6", "astropy GZIP_1", "astropy GZIP_2"])
def test_planes_read_as_astropy_reads_them(writer: str, tmp_path: Path) -> None:
    """read_plane inflates GZIP_1 tiles to astropy's pixels, and leaves other tilings to astropy."""
    image = processed_exposure(11).image.array
    if writer.startswith("level"):
        hdu = FitsCompression(tile_rows=7, gzip_level=int(writer.split()[1])).hdu("image", image)
    else:
        algorithm = writer.split()[1]
        hdu = fits.CompImageHDU(image, name="IMAGE", compression_type=algorithm, quantize_level=0.0)
    path = tmp_path / "plane.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with fits.open(path) as hdul:
        expected = np.asarray(hdul["IMAGE"].data)
    with fits.open(path, disable_image_compression=True) as hdul:
        assert isinstance(hdul["IMAGE"], fits.BinTableHDU)
        pixels = read_plane(hdul, "IMAGE")
    assert pixels.shape == image.shape
    assert pixels.astype(np.float32).tobytes() == expected.astype(np.float32).tobytes() == image.tobytes()
    # Each GZIP_1 tile is a standard gzip stream (Python's zlib inflates it too).
    if writer.startswith("level"):
        with fits.open(path, disable_image_compression=True) as hdul:
            first = bytes(hdul["IMAGE"].data["COMPRESSED_DATA"][0])
        assert gzip.decompress(first) == image[:7].astype(">f4").tobytes()


def test_damaged_tile_refused_naming_the_extension(tmp_path: Path) -> None:
    image = processed_exposure(12).image.array
    hdu = FitsCompression(tile_rows=64).hdu("image", image)
    hdu.data["COMPRESSED_DATA"][1] = hdu.data["COMPRESSED_DATA"][1][:40]
    path = tmp_path / "damaged.fits"
    fits.HDUList([fits.PrimaryHDU(), hdu]).writeto(path)
    with fits.open(path, disable_image_compression=True) as hdul, pytest.raises(ValueError, match="IMAGE"):
        read_plane(hdul, "IMAGE")


@pytest.mark.skipif(
    shutil.which("funpack") is None, reason="CFITSIO's funpack (Debian libcfitsio-bin) not installed"
)
def test_cfitsio_reads_the_same_pixels(repo: Butler, tmp_path: Path) -> None:
    """CFITSIO (funpack) decompresses the files to the very pixels written."""
    exposure = processed_exposure(10)
    ref = repo.put(exposure, "cpTestImage", {**DATA_ID, "detector": 3}, run=RUN)
    unpacked = tmp_path / "unpacked.fits"
    subprocess.run(["funpack", "-O", str(unpacked), repo.getURI(ref).ospath], check=True, timeout=60)
    with fits.open(unpacked) as hdul:
        assert all(type(hdul[name]) is fits.ImageHDU for name in ("IMAGE", "MASK", "VARIANCE"))
        back = Exposure(
            np.asarray(hdul["IMAGE"].data, dtype=np.float32),
            np.asarray(hdul["MASK"].data, dtype=np.int32),
            np.asarray(hdul["VARIANCE"].data, dtype=np.float32),
        )
    assert_bit_exact(back, exposure)


def test_uncompressed_files_still_read(tmp_path: Path) -> None:
    """Files written before compression (plain image extensions) read as before."""
    exposure = processed_exposure(7)
    path = tmp_path / "old.fits"
    fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(exposure.image.array, name="IMAGE"),
            fits.ImageHDU(exposure.mask.array, name="MASK"),
            fits.ImageHDU(exposure.variance.array, name="VARIANCE"),
        ]
    ).writeto(path)
    back = ExposureFormatter.read_from_local_file(object.__new__(ExposureFormatter), str(path))
    assert_bit_exact(back, exposure)


@pytest.mark.parametrize(
    "recipe, words",
    [
        ({"image": "RICE_1"}, "image='RICE_1' is not a lossless compression of float pixels"),
        ({"variance": "HCOMPRESS_1"}, "variance='HCOMPRESS_1'"),
        ({"mask": "PLIO_2"}, "mask='PLIO_2'"),
        ({"quantize_level": 16}, "unknown key(s) ['quantize_level']"),
        ({"tile_rows": 0}, "tile_rows=0 must be a positive integer"),
        ({"gzip_level": 0}, "gzip_level=0 must be an integer from 1"),
        ({"gzip_level": "fast"}, "gzip_level='fast' must be an integer from 1"),
    ],
)
def test_lossy_or_unknown_recipe_refused(recipe: dict, words: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        ExposureFormatter.validate_write_recipes({"mine": recipe})
    assert words in str(excinfo.value) and "'mine'" in str(excinfo.value)


def test_seed_config_recipe_is_lossless() -> None:
    """The repository seed selects the lossless recipe, and its recipes validate."""
    config = Config(SEED_CONFIG)
    entry = config["datastore", "formatters", "ComCamExposure"]
    assert entry["formatter"] == "lsst.ts.calibrations.repo.formatters.ExposureFormatter"
    assert entry["parameters", "recipe"] == "lossless"
    recipes = config["datastore", "formatters", "write_recipes", entry["formatter"]].toDict()
    validated = ExposureFormatter.validate_write_recipes(recipes)
    assert validated is not None
    assert validated["lossless"] == FitsCompression(
        image="GZIP_1", mask="RICE_1", variance="GZIP_1", tile_rows=64, gzip_level=1
    )
    assert validated["noCompression"] == FitsCompression(image="NONE", mask="NONE", variance="NONE")


def test_no_compression_recipe_writes_plain_images(tmp_path: Path) -> None:
    """A repository configured with recipe noCompression writes plain image extensions."""
    config = Config(SEED_CONFIG)
    config["datastore", "formatters", "ComCamExposure", "parameters", "recipe"] = "noCompression"
    config_path = tmp_path / "seed.yaml"
    config.dumpToUri(str(config_path))
    root = tmp_path / "repo"
    Butler.makeRepo(str(root), config=Config(str(config_path)))
    with bootstrap_repository(root) as butler:
        butler.registry.registerDatasetType(
            DatasetType(
                "cpTestImage", ("instrument", "detector"), "ComCamExposure", universe=butler.dimensions
            )
        )
        butler.collections.register(RUN)
        exposure = processed_exposure(8)
        ref = butler.put(exposure, "cpTestImage", DATA_ID, run=RUN)
        assert_bit_exact(butler.get(ref), exposure)
        with fits.open(butler.getURI(ref).ospath) as hdul:
            assert all(type(h) is fits.ImageHDU for h in hdul[1:4])
