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
"""SalLogHandler: log records as ``logMessage`` events."""

__all__ = ["SalLogHandler"]

import asyncio
import logging
import threading
import traceback
from typing import TYPE_CHECKING, Any

from .base import TAI_MINUS_UTC

if TYPE_CHECKING:
    from .controller import Controller


class SalLogHandler(logging.Handler):
    """Write an ``evt_logMessage`` for each log record of a Controller.

    Records logged from another thread are written on the event loop.

    Parameters
    ----------
    controller : `Controller`
        The Controller whose ``evt_logMessage`` is written.
    """

    def __init__(self, controller: "Controller") -> None:
        super().__init__()
        self.controller = controller
        self.loop = asyncio.get_running_loop()
        self.loop_thread_id = threading.get_ident()
        self._writing = False

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record as ``evt_logMessage`` (on the event loop)."""
        if self.loop.is_closed():
            return
        try:
            fields = self._fields(record)
        except Exception:  # pragma: no cover - a formatting error in a log call
            self.handleError(record)
            return
        if threading.get_ident() == self.loop_thread_id:
            self._write(fields)
        else:
            self.loop.call_soon_threadsafe(self._write, fields)

    def _fields(self, record: logging.LogRecord) -> dict[str, Any]:
        tb = ""
        if record.exc_info and record.exc_info[0] is not None:
            tb = "".join(traceback.format_exception(*record.exc_info))
        values: dict[str, Any] = dict(
            name=record.name,
            level=record.levelno,
            message=record.getMessage(),
            traceback=tb,
            filePath=record.pathname,
            functionName=record.funcName or "",
            lineNumber=record.lineno,
            process=record.process or 0,
            timestamp=record.created + TAI_MINUS_UTC,
        )
        return values

    def _write(self, fields: dict[str, Any]) -> None:
        topic = getattr(self.controller, "evt_logMessage", None)
        if topic is None or self._writing or self.controller.salinfo.closed:
            return
        self._writing = True
        try:
            topic.set(**{name: value for name, value in fields.items() if name in topic.topic_info.fields})
            topic.basic_write()
        finally:
            self._writing = False
