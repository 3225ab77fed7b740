"""LSSTComCam butler glue: camera description, image types, repository and ingest.

Each module is imported explicitly (``from lsst.ts.calibrations.repo.camera
import Camera``); this package does not import the butler on its own.
"""
