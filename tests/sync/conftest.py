import pytest

from appliance.app import open_store
from appliance.config import load_settings
from appliance.index.embedder import Embedder
from appliance.sync import manifest as m
from appliance.sync.pipeline import Pipeline


@pytest.fixture(scope="module")
def real_embedder(models_dir):
    """The default embedders: MiniLM and the multilingual one."""
    settings = load_settings(None, env={}, overrides={"paths.models": str(models_dir)})
    return Embedder(settings.embedder, settings.embedder_dir, settings.multilingual_embedder)


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
        index = open_store(s)
        manifest = m.Manifest(s.paths.data / "manifest.sqlite3")
        opened.append((index, manifest))
        return Pipeline(s, manifest, index, embedder or real_embedder)

    yield make
    for index, manifest in opened:
        index.close()
        manifest.close()
