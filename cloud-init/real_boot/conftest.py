"""Fixtures for real boots: where the prepared base image is cached, and the image itself."""

import os
import sys
from pathlib import Path

import pytest

# The local servers (HTTPS with a test CA, IMDSv2, moto) are the stubbed rehearsal's.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import container
import image


@pytest.fixture(scope="session")
def real_boot_cache():
    """$REAL_BOOT_CACHE, else $XDG_CACHE_HOME (or ~/.cache) + /asg-deploy/real-boot."""
    if os.environ.get("REAL_BOOT_CACHE"):
        return Path(os.environ["REAL_BOOT_CACHE"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "asg-deploy" / "real-boot"


@pytest.fixture(scope="session")
def base_image(real_boot_cache):
    """The prepared base rootfs tarball; a host that cannot boot it fails here in one line, never skips."""
    missing = None
    try:
        container.check_host()
    except container.HostNotReady as error:
        missing = str(error)
    if missing:
        pytest.fail(missing, pytrace=False)
    return image.prepared_base(real_boot_cache)
