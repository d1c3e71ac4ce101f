"""Suite-wide: no network beyond loopback (see tests/netguard), models from models/."""

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GUARD_DIR = Path(__file__).resolve().parent / "netguard"
MODELS = Path(os.environ.get("APPLIANCE_TEST_MODELS", ROOT / "models"))

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("NETGUARD_LOG", str(ROOT / ".netguard.log"))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [str(GUARD_DIR), str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]
)
sys.path.insert(0, str(GUARD_DIR))
import sitecustomize  # noqa: E402,F401  (installs the guard in this process)


def _is_worker(session) -> bool:
    """A pytest-xdist worker: the log is the controlling process's to clear and to read."""
    return hasattr(session.config, "workerinput")


def pytest_sessionstart(session):
    if not _is_worker(session):
        Path(os.environ["NETGUARD_LOG"]).unlink(missing_ok=True)


def pytest_sessionfinish(session, exitstatus):
    log = Path(os.environ["NETGUARD_LOG"])
    if _is_worker(session):
        return
    if log.exists() and log.read_text().strip():
        print(f"\nnetwork access was attempted during the tests:\n{log.read_text()}")
        session.exitstatus = 1


@pytest.fixture(scope="session")
def models_dir() -> Path:
    if not (MODELS / "generator").is_dir() or not (MODELS / "embedder").is_dir():
        pytest.fail(f'{MODELS} holds no models: run "appliance models fetch" first')
    return MODELS


@pytest.fixture
def models_copy(tmp_path, models_dir) -> Path:
    """A models/ folder of links to the real files, so one can be broken without harm."""
    from appliance import models

    copy = tmp_path / "models"
    for f in models.DEFAULT_MODEL_FILES:
        (copy / f.path).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(models_dir / f.path, copy / f.path)
    return copy
