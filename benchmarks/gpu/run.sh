#!/bin/bash
# One measuring run on a GPU box without network, about 8 minutes on an H200 (16 cores):
# installs the wheels of .gpu/ (benchmarks/gpu/prepare.sh), builds llama-cpp-python with
# CUDA for one architecture (CUDA_ARCH, default 90), writes the synthetic 8B-shaped model,
# runs `appliance doctor`, scripts/bench_batching.py for 1, 4 and 16 users, and a served
# question. Output goes to $OUT (log.txt, build.txt, serve.txt, gpu-mem.csv).
#     OUT=/tmp/out bash benchmarks/gpu/run.sh
# A dry run on a CPU box (no build, a small model): LOCAL=1 OUT=/tmp/out bash benchmarks/gpu/run.sh
set -u
mkdir -p "$OUT"
exec > >(tee -a "$OUT/log.txt") 2>&1
export PYTHONUNBUFFERED=1
T0=$(date +%s)
el() { echo "=== [$(( $(date +%s) - T0 )) s] $*"; }
REPO=$PWD
el start
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | head -3
nproc
if [ "${LOCAL:-0}" = 1 ]; then
    PY=$REPO/.venv/bin/python
    SYNTH_ARGS="--layers 2 --embedding 512 --feed-forward 1024 --heads 8 --kv-heads 2"
    export PYTHONPATH=$REPO
else
    PY=python3
    SYNTH_ARGS=""
    $PY -V
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .gpu/whl/*.whl || { el wheels failed; exit 1; }
    export PYTHONPATH=/tmp/site:$REPO
fi
(timeout 300 $PY scripts/make_synthetic_gguf.py /tmp/synth.gguf --source .gpu/vocab.gguf \
    $SYNTH_ARGS > /tmp/synth.log 2>&1; echo "synthetic model rc $? at $(( $(date +%s) - T0 )) s" >> /tmp/synth.log) &
SYNTH=$!
if [ "${LOCAL:-0}" != 1 ]; then
    NVCC=$(command -v nvcc || ls /usr/local/cuda*/bin/nvcc 2>/dev/null | head -1)
    echo "nvcc: $NVCC"; "$NVCC" --version | tail -2
    export CUDACXX=$NVCC PATH=$(dirname "$NVCC"):$PATH
    tar xzf .gpu/llama-src.tar.gz -C /tmp
    el build start
    CMAKE_ARGS="-DGGML_CUDA=on -DCMAKE_CUDA_ARCHITECTURES=${CUDA_ARCH:-90} -DLLAVA_BUILD=off" \
    CMAKE_BUILD_PARALLEL_LEVEL=16 timeout 420 $PY -m pip install --no-build-isolation --no-deps \
        --no-index --no-cache-dir --target /tmp/llama /tmp/llama_cpp_python-*/ \
        > "$OUT/build.txt" 2>&1
    el "build done rc $?"
    tail -3 "$OUT/build.txt"
    export PYTHONPATH=/tmp/llama:$PYTHONPATH
fi
$PY -c "import llama_cpp; print('llama_cpp', llama_cpp.__version__, 'gpu offload', llama_cpp.llama_supports_gpu_offload())"
$PY -c "import onnxruntime as o; print('onnxruntime', o.__version__, o.get_available_providers())"
wait $SYNTH; cat /tmp/synth.log
el synthetic model ready

mkdir -p /tmp/appl/kb /tmp/appl/data
printf 'paths:\n  kb: /tmp/appl/kb\n  data: /tmp/appl/data\n  models: %s/models\ngenerator:\n  model: /tmp/synth.gguf\n' "$REPO" > /tmp/appl/appliance.yaml
el doctor
timeout 150 $PY -m appliance doctor --config /tmp/appl/appliance.yaml
el "doctor rc $?"

(nvidia-smi --query-gpu=memory.used,utilization.gpu --format=csv -l 1 > "$OUT/gpu-mem.csv" 2>/dev/null &)
el batching
timeout 240 $PY scripts/bench_batching.py --model /tmp/synth.gguf --users ${USERS:-1,4,16} \
    --prompt-tokens ${PROMPT:-1500} --max-tokens 128 --rounds 3 --n-ctx 4096
el "batching rc $?"
timeout 120 $PY scripts/bench_batching.py --model /tmp/synth.gguf --users ${USERS16:-16} --separate-up-to 0 \
    --prompt-tokens ${PROMPT:-1500} --max-tokens 128 --rounds 3 --n-ctx 4096 --n-batch 2048
el "batching n_batch 2048 rc $?"
el serve
cp kb/* /tmp/appl/kb/
$PY -m appliance serve --config /tmp/appl/appliance.yaml --port 18800 > "$OUT/serve.txt" 2>&1 &
SERVE=$!
$PY - <<'PYEOF'
import json, time, urllib.request
url = "http://127.0.0.1:18800"
for _ in range(120):
    try:
        urllib.request.urlopen(url + "/ready", timeout=2); break
    except Exception:
        time.sleep(1)
print("status", urllib.request.urlopen(url + "/api/status").read().decode()[:400])
for q in ["Which file types can I drop into the folder?", "What is the capital of Peru?"]:
    req = urllib.request.Request(url + "/api/ask", json.dumps({"question": q}).encode(),
                                 {"Content-Type": "application/json"})
    t = time.perf_counter()
    reply = json.loads(urllib.request.urlopen(req, timeout=120).read())
    print(f"ask {q!r}: {time.perf_counter() - t:.2f} s, mode {reply.get('mode')}, "
          f"answer {reply.get('answer', '')[:120]!r}")
PYEOF
kill $SERVE; wait $SERVE
el "serve done"
pkill nvidia-smi
el end
