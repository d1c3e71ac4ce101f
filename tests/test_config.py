from pathlib import Path

import pytest
import yaml

from appliance.config import describe, load_settings
from appliance.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def write(tmp_path, text: str) -> Path:
    path = tmp_path / "appliance.yaml"
    path.write_text(text)
    return path


def test_the_shipped_config_documents_every_key_with_its_default():
    shipped = yaml.safe_load((ROOT / "appliance.yaml").read_text())
    defaults = describe(load_settings(None, env={}))
    for section, values in defaults.items():
        assert set(shipped[section]) == set(values), section
    from_file = load_settings(ROOT / "appliance.yaml", env={})
    for section in defaults:
        if section != "paths":
            assert getattr(from_file, section) == getattr(load_settings(None, env={}), section)
    assert from_file.paths.kb == ROOT / "kb"


def test_relative_paths_resolve_against_the_config_folder(tmp_path):
    settings = load_settings(write(tmp_path, "paths:\n  data: state\n"), env={})
    assert settings.paths.data == tmp_path / "state"
    assert (
        settings.generator_model_path == tmp_path / "models/generator/"
        "SmolLM2-135M-Instruct.Q4_1.gguf"
    )


def test_precedence_file_then_env_then_flags(tmp_path):
    config = write(tmp_path, "server:\n  port: 9000\ngenerator:\n  n_gpu_layers: 10\n")
    env = {"APPLIANCE_SERVER__PORT": "9100", "APPLIANCE_GENERATOR__TEMPERATURE": "0.7"}
    settings = load_settings(config, env=env, overrides={"server.port": 9200})
    assert settings.server.port == 9200
    assert settings.generator.temperature == 0.7
    assert settings.generator.n_gpu_layers == 10
    assert load_settings(config, env=env).server.port == 9100


def test_dotenv_beside_the_config_is_read_and_real_env_wins(tmp_path):
    (tmp_path / ".env").write_text(
        "# secrets\nAPPLIANCE_SERVER__PORT=8100\nexport APPLIANCE_LIMITS__MAX_WAITING='3'\n"
    )
    config = write(tmp_path, "")
    assert load_settings(config, env={}).server.port == 8100
    assert load_settings(config, env={}).limits.max_waiting == 3
    assert load_settings(config, env={"APPLIANCE_SERVER__PORT": "8200"}).server.port == 8200


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("generator:\n  n_gpu_layer: 1\n", "unknown key 'generator.n_gpu_layer'"),
        ("genrator:\n  n_ctx: 1\n", "unknown section 'genrator'"),
        ("server:\n  port: eighty\n", "server.port must be an integer"),
        ("server:\n  port: 70000\n", "server.port must be between 1 and 65535"),
        ("embedder:\n  pooling: max\n", "allowed: mean, cls"),
        ("watcher:\n  enabled: yes please\n", "watcher.enabled must be true or false"),
        (
            "retrieval:\n  chunk_tokens: 50\n  chunk_overlap_tokens: 60\n",
            "retrieval.chunk_overlap_tokens",
        ),
        ("retrieval:\n  chunk_tokens: 300\n", "more than embedder.max_tokens (256)"),
        ("retrieval:\n  chunk_words: 180\n", "write retrieval.chunk_tokens instead"),
        ("generator:\n  max_tokens: 5000\n", "generator.max_tokens"),
        (
            "generator:\n  kv_cache_type: q8_0\n  flash_attn: false\n",
            "kv_cache_type q8_0 needs flash attention",
        ),
        ("generator:\n  flash_attn: maybe\n", "generator.flash_attn"),
        ("- just\n- a list\n", "must be a mapping"),
        ("server: [1, 2]\n", "'server'"),
        ("paths:\n  kb: [1]\n", "paths.kb must be a path"),
        ("server: {port: 1\n", "not valid YAML"),
    ],
)
def test_wrong_keys_and_values_name_the_key(tmp_path, text, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_settings(write(tmp_path, text), env={})


def test_env_override_errors_name_the_variable(tmp_path):
    with pytest.raises(ConfigError, match="APPLIANCE_SERVR__PORT"):
        load_settings(None, env={"APPLIANCE_SERVR__PORT": "1"})
    with pytest.raises(ConfigError, match="server.port must be an integer"):
        load_settings(None, env={"APPLIANCE_SERVER__PORT": "abc"})


def test_an_env_key_that_is_not_a_setting_names_the_variable_not_the_file(tmp_path):
    with pytest.raises(
        ConfigError,
        match=r"unknown setting 'server.prot' from environment variable "
        r"APPLIANCE_SERVER__PROT; did you mean APPLIANCE_SERVER__PORT\?",
    ):
        load_settings(write(tmp_path, ""), env={"APPLIANCE_SERVER__PROT": "1"})


def test_secrets_in_dotenv_are_taken_as_written_not_as_yaml(tmp_path):
    """`Pa55 #word!` read as YAML was the token `Pa55`; `123456` a number refused with the
    secret in the message."""
    config = write(tmp_path, "")
    for secret in ("Pa55 #word!", "123456", "yes", "07", "[not, a, list]"):
        (tmp_path / ".env").write_text(f"APPLIANCE_ACCESS_TOKEN={secret}\n")
        assert load_settings(config, env={}).server.access_token == secret
    env = {"APPLIANCE_INDEX__QDRANT_API_KEY": "0x1F", "APPLIANCE_ANSWERS__MODE": "extractive"}
    settings = load_settings(config, env=env)
    assert settings.index.qdrant_api_key == "0x1F" and settings.answers.mode == "extractive"
    assert load_settings(config, env={"APPLIANCE_SERVER__PORT": "8300"}).server.port == 8300


def test_an_appliance_variable_that_nearly_names_a_setting_is_warned_about(tmp_path, caplog):
    env = {
        "APPLIANCE_ACCES_TOKEN": "s3cret",  # misspelt: no sign-in at all, silently
        "APPLIANCE_SERVER_PORT": "9000",  # one underscore
        "APPLIANCE_BIND": "0.0.0.0",  # the compose file's own: not a setting, not a typo
        "APPLIANCE_TEST_MODELS": "/models",  # the tests' own, nearer PATHS__MODELS than most
    }
    load_settings(write(tmp_path, ""), env=env)
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warned == [
        "the environment variable APPLIANCE_ACCES_TOKEN sets nothing: did you mean "
        "APPLIANCE_ACCESS_TOKEN?",
        "the environment variable APPLIANCE_SERVER_PORT sets nothing: did you mean "
        "APPLIANCE_SERVER__PORT?",
    ]


def test_a_secret_written_in_the_config_file_is_warned_about(tmp_path, caplog):
    settings = load_settings(write(tmp_path, "server:\n  access_token: plain-in-yaml\n"), env={})
    assert settings.server.access_token == "plain-in-yaml"  # it works, and it is said
    warned = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert (
        len(warned) == 1
        and "keep secrets in .env (APPLIANCE_SERVER__ACCESS_TOKEN=...)" in (warned[0])
    )


def test_missing_config_file_is_reported(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.yaml", env={})
