"""Hypothesis profiles for the property tests (tests/unit/test_properties.py).

``ci`` (loaded when the environment variable CI is set): derandomized, so a run tries the same
inputs every time and a failure reproduces; few enough examples that the module stays well under
a minute on a loaded two-core machine. ``dev`` (otherwise): random inputs, a few more of them, still
short. Choose another with ``pytest --hypothesis-profile=<name>``; ``thorough`` tries many more.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

_COMMON = {
    "deadline": None,  # a loaded machine makes timings noisy; a hang is caught by the test timeout
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.data_too_large],
    "print_blob": True,
}
settings.register_profile("ci", max_examples=200, derandomize=True, database=None, **_COMMON)
settings.register_profile("dev", max_examples=100, **_COMMON)
settings.register_profile("thorough", max_examples=2000, **_COMMON)


def pytest_configure(config):
    if config.getoption("hypothesis_profile", None) is None:  # else the one asked for
        settings.load_profile("ci" if os.environ.get("CI") else "dev")
