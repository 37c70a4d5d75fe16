import shutil
from pathlib import Path

import pytest

from geoapp import DATA_DIR
from geoapp.data import load_registry


@pytest.fixture(scope="session")
def registry():
    return load_registry()


@pytest.fixture
def data_copy(tmp_path) -> Path:
    """A writable copy of data/ for tests that break a file on purpose."""
    target = tmp_path / "data"
    shutil.copytree(DATA_DIR, target)
    return target
