"""ComCam combined calibrations: SAL runtime, observatory control, simulator, pipelines.

Subpackages are imported on demand (``lsst.ts.calibrations.sal``,
``lsst.ts.calibrations.repo``, ...) so that light entry points, such as a
script printing its schema, do not pay for the butler or pipeline imports.
"""

from .version import *
