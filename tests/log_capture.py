"""Log messages of the code under test, on Airflow 3 (structlog) and Airflow 2 (logging) alike."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator


class _Collect(logging.Handler):
    def __init__(self, messages: list[str]) -> None:
        super().__init__(logging.DEBUG)
        self.messages = messages

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


@contextlib.contextmanager
def log_messages() -> Iterator[list[str]]:
    """Collect every message logged inside the block (complete once the block ends)."""
    messages: list[str] = []
    handler = _Collect(messages)
    # Airflow 2's task loggers do not propagate to the root logger.
    loggers = [logging.getLogger(), logging.getLogger("airflow.task")]
    for logger in loggers:
        logger.addHandler(handler)
    try:
        from structlog.testing import capture_logs
    except ImportError:  # Airflow 2 without structlog
        capture = contextlib.nullcontext([])
    else:
        capture = capture_logs()
    try:
        with capture as events:
            yield messages
    finally:
        for logger in loggers:
            logger.removeHandler(handler)
    messages.extend(str(event.get("event", "")) for event in events)
