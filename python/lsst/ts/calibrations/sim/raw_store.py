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

"""Where the simulated camera writes its raw files, and how they are named.

Layout under the raw root (by default ``<repository>/sim_raws``)::

    <root>/<day_obs>/<obs_id>/<obs_id>_<detector name>.fits
    e.g. sim_raws/20241024/CC_O_20241024_000123/CC_O_20241024_000123_R22_S11.fits

The OODS ingests the files where they are (``transfer="direct"``), so the
folder is part of the repository and must be kept with it. The header
service writes ``<obs_id>_header.fits`` (the image's primary header) into
the same image folder.
"""

__all__ = ["RawStore"]

import os
import re
from pathlib import Path

_OBS_ID_RE = re.compile(r"^[A-Z]{2}_O_(\d{8})_(\d{6})$")


class RawStore:
    """The folder of the simulated camera's raw files.

    Parameters
    ----------
    root : `str` or `os.PathLike`
        Raw root folder (created when first written to).
    prefix : `str`, optional
        Image-name prefix of the camera: ``CC_O`` (ComCam, default),
        ``MT_O`` (LSSTCam) or ``AT_O`` (LATISS).
    """

    def __init__(self, root: str | os.PathLike[str], prefix: str = "CC_O") -> None:
        self.root = Path(root).absolute()
        self.prefix = prefix

    def obs_id(self, day_obs: int, seq_num: int) -> str:
        """The image name ``<prefix>_YYYYMMDD_NNNNNN`` of an exposure (``CC_O_20241024_000123``)."""
        return f"{self.prefix}_{day_obs:08d}_{seq_num:06d}"

    @staticmethod
    def parse_obs_id(obs_id: str) -> tuple[int, int]:
        """Return (day_obs, seq_num) of an image name ``CC_O_YYYYMMDD_NNNNNN`` (any camera's prefix).

        Raises
        ------
        ValueError
            If the name does not have that form.
        """
        match = _OBS_ID_RE.match(obs_id)
        if match is None:
            raise ValueError(f"image name {obs_id!r} is not of the form CC_O_YYYYMMDD_NNNNNN.")
        return int(match.group(1)), int(match.group(2))

    def image_dir(self, obs_id: str) -> Path:
        """The folder of one image's files."""
        day_obs, _ = self.parse_obs_id(obs_id)
        return self.root / f"{day_obs:08d}" / obs_id

    def raw_path(self, obs_id: str, detector_name: str) -> Path:
        """The raw file of one detector of one image."""
        return self.image_dir(obs_id) / f"{obs_id}_{detector_name}.fits"

    def header_path(self, obs_id: str) -> Path:
        """The header file the header service writes for one image."""
        return self.image_dir(obs_id) / f"{obs_id}_header.fits"

    def raw_files(self, obs_id: str) -> list[Path]:
        """The raw files of one image, sorted by name (none if the folder is missing)."""
        folder = self.image_dir(obs_id)
        if not folder.is_dir():
            return []
        return sorted(p for p in folder.glob(f"{obs_id}_R*.fits") if p.is_file())

    def max_seq_num(self, day_obs: int) -> int:
        """The highest sequence number with an image folder on ``day_obs`` (0 if none)."""
        folder = self.root / f"{day_obs:08d}"
        if not folder.is_dir():
            return 0
        seq_nums = [0]
        for entry in folder.iterdir():
            try:
                entry_day, seq_num = self.parse_obs_id(entry.name)
            except ValueError:
                continue
            if entry_day == day_obs and entry.name.startswith(self.prefix):
                seq_nums.append(seq_num)
        return max(seq_nums)

    def __repr__(self) -> str:
        return f"RawStore({str(self.root)!r}, prefix={self.prefix!r})"
