"""pytest plumbing for the package test: phase timings, printed at the end of the run."""
from __future__ import annotations

import time
from typing import List, Tuple

import pytest

_TIMINGS: List[Tuple[str, float]] = []
_T0 = time.monotonic()


@pytest.fixture(scope="session")
def record_time():
    """record_time(phase, seconds): shown in the 'package test timings' summary."""
    def record(phase: str, seconds: float) -> None:
        _TIMINGS.append((phase, seconds))
        print(f"[package] {phase}: {seconds:.1f}s", flush=True)
    return record


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    tr = terminalreporter
    tr.section("package test timings")
    for phase, seconds in _TIMINGS:
        tr.write_line(f"{phase:<48} {seconds:7.1f}s")
    tr.write_line(f"{'total (this pytest run)':<48} {time.monotonic() - _T0:7.1f}s")
