#!/bin/sh
# Prepare .gpu/ (git-ignored) for one measuring run on a GPU box that has no network:
# llama-cpp-python's source (slimmed to ~10 MB: no test models, docs or git history), the
# appliance's dependencies as Python 3.12 wheels, and a tokenizer-only GGUF of the default
# model for scripts/make_synthetic_gguf.py. Together with models/embedder it is ~55 MB.
# Then, on the GPU box, from the repository root: bash benchmarks/gpu/run.sh
set -eu
cd "$(dirname "$0")/../.."
PIP=".venv/bin/pip"
mkdir -p .gpu/whl
grep -qx "/.gpu/" .git/info/exclude 2>/dev/null || echo "/.gpu/" >> .git/info/exclude

version() { $PIP show "$1" | awk '/^Version/{print $2}'; }
llama=$(version llama-cpp-python)
tmp=$(mktemp -d)
$PIP download -q --no-deps --no-binary :all: "llama-cpp-python==$llama" -d "$tmp"
tar xzf "$tmp"/llama_cpp_python-*.tar.gz -C "$tmp"
src="$tmp/llama_cpp_python-$llama"
rm -rf "$src/.git" "$src/vendor/llama.cpp/.git" "$src/vendor/llama.cpp/models/"*.gguf* \
    "$src/vendor/llama.cpp/docs" "$src/vendor/llama.cpp/media" "$src/vendor/llama.cpp/benches" \
    "$src/vendor/llama.cpp/tools/ui/tests" "$src/vendor/llama.cpp/tools/mtmd/"*.mp4
tar czf .gpu/llama-src.tar.gz -C "$tmp" "llama_cpp_python-$llama"
rm -rf "$tmp"

# What the GPU image lacks (it has numpy, onnxruntime, tokenizers, jinja2, pyyaml, ...).
for name in diskcache gguf fastembed loguru mmh3 py_rust_stemmers qdrant-edge-py pydantic \
    pydantic_core annotated-types typing-inspection flask blinker itsdangerous waitress \
    watchdog pypdfium2 python-docx openpyxl et_xmlfile python-pptx xlsxwriter jsonschema \
    jsonschema-specifications referencing rpds-py; do
    echo "$name==$(version "$name")"
done > .gpu/requirements.txt
$PIP download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
    --platform manylinux1_x86_64 -d .gpu/whl -r .gpu/requirements.txt

.venv/bin/python - <<'PY'
import sys
sys.path.insert(0, "scripts")
import gguf
from make_synthetic_gguf import DEFAULT_SOURCE, read_tokenizer

writer = gguf.GGUFWriter(".gpu/vocab.gguf", "llama")
for key, value, vtype, sub_type in read_tokenizer(DEFAULT_SOURCE):
    writer.add_key_value(key, value, vtype, sub_type)
writer.write_header_to_file()
writer.write_kv_data_to_file()
writer.write_ti_data_to_file()
writer.close()
PY
du -sh .gpu models/embedder
