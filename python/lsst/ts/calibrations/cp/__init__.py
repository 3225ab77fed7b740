"""Calibration pipelines: numpy PipelineTasks under cp_pipe's and cp_verify's names.

Pipeline definitions live in ``pipelines/<instrument>/`` (LSSTComCam, LSSTCam, LATISS;
shared task graphs in ``pipelines/_ingredients/``) beside this file
(``${CP_PIPE_DIR}`` and ``${CP_VERIFY_DIR}`` resolve to this directory). Task
modules are imported by their full names, so importing this package is cheap.
"""
