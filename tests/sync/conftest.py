import pytest

from appliance.config import load_settings
from appliance.index.edge import EdgeIndex
from appliance.index.embedder import Embedder
from appliance.sync import manifest as m
from appliance.sync.pipeline import Pipeline


@pytest.fixture(scope="module")
def real_embedder(models_dir):
    settings = load_settings(None, env={})
    return Embedder(settings.embedder, models_dir / "embedder")


@pytest.fixture
def make_pipeline(tmp_path, models_dir, real_embedder):
    """A real pipeline (Qdrant Edge, manifest, embedder) on tmp_path/kb and tmp_path/data."""
    opened = []

    def make(embedder=None, **settings) -> Pipeline:
        overrides = {
            "paths.kb": str(tmp_path / "kb"),
            "paths.data": str(tmp_path / "data"),
            "paths.models": str(models_dir),
            "watcher.settle_s": 0.2,
            **{key.replace("__", "."): value for key, value in settings.items()},
        }
        s = load_settings(None, env={}, overrides=overrides)
        s.paths.kb.mkdir(exist_ok=True)
        index = EdgeIndex(s.paths.data / "index", s.embedder.dim)
        manifest = m.Manifest(s.paths.data / "manifest.sqlite3")
        opened.append((index, manifest))
        return Pipeline(s, manifest, index, embedder or real_embedder)

    yield make
    for index, manifest in opened:
        index.close()
        manifest.close()
