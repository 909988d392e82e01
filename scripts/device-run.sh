#!/usr/bin/env bash
# Runs ON a lent GPU machine (the `device` tool; Python + PyTorch + CUDA, no Node, no network), from the repository
# root, with .devkit/ carried (build it here first: bash scripts/device-kit.sh). Writes everything to $OUT.
#   1. WebGPU on the real GPU: scripts/bench-webgpu-node.ts (onnxruntime-web's WebGPU EP + the pipeline, through
#      Dawn on the NVIDIA Vulkan driver) on the 512x512x300 bench phantom: node placement, 3 whole-volume runs,
#      the mask compared with onnxruntime-node's CPU mask made here (.devkit/ref-mask-512.gz); the same network in
#      PyTorch CUDA per tile for reference.
#   2. A training phase on CUDA (training/train.py --deadline): phantoms generated there by the project's generator
#      (bundled), the checkpoint (weights only) written to $OUT/run/ckpt.pt; export it here with --export-only.
# Environment (for a dry run on the CPU machine): PY (python with torch), SEEDS (160), BENCH_DIMS (512,512,300),
# TRAIN_END_S (seconds after start when training must end; 470), GEN_THREADS (12), BATCH (8), BENCH_RUNS (3),
# INIT (the package to start from; models/psoas-unet3d), SKIP_TORCH (set: no PyTorch per-tile figure), GL_ROOT (/),
# TRAIN_EXTRA (more train.py options, appended so they override, e.g. '--bg-muscle-hu 20 150 --focus-labels 18 100'),
# PSOAS_SCALE_RANGE (the training phantoms' psoas size factors, train.py --psoas-scale-range; '0.7 1.3'; 'seed': each
# seed's own, 0.79..1.21 bunched around 1). Session 21 measured the masks regressing to the typical size (model card).
# OBLIQUE_TILT_RANGE (degrees, train.py --oblique-tilt-range; '5 30'; 'fixed': every oblique phantom 16 deg about one axis).
set -u
OUT=${OUT:-/tmp/device-out}
PY=${PY:-python3}
SEEDS=${SEEDS:-160}
SCALES=${PSOAS_SCALE_RANGE:-0.7 1.3}
if [ "$SCALES" = seed ]; then SCALE_ARG=; SCALE_PY=None; else SCALE_ARG="--psoas-scale-range $SCALES"; SCALE_PY="(${SCALES// /, })"; fi
TILTS=${OBLIQUE_TILT_RANGE:-5 30}
if [ "$TILTS" = fixed ]; then TILT_ARG=; TILT_PY=None; else TILT_ARG="--oblique-tilt-range $TILTS"; TILT_PY="(${TILTS// /, })"; fi
BENCH_DIMS=${BENCH_DIMS:-512,512,300}
GEN_THREADS=${GEN_THREADS:-12}
BATCH=${BATCH:-8}
T0=$(date +%s)
DEADLINE=$((T0 + ${TRAIN_END_S:-470}))
mkdir -p "$OUT/run"
log() { echo "[$(($(date +%s) - T0))s] $*"; }
K=$PWD/.devkit

log "unpacking the kit"
"$PY" - <<'PY' || exit 1
import glob, io, lzma, os, shutil, tarfile
for f in glob.glob('.devkit/**/*.xz', recursive=True):
    with lzma.open(f) as src, open(f[:-3], 'wb') as dst:
        shutil.copyfileobj(src, dst, 1 << 24)
# the Vulkan loader and GLVND (the NVIDIA ICD, libGLX_nvidia, needs libGLdispatch) from their .debs (ar archives
# holding data.tar.*) into / , as the device notes advise for these GL packages; ldconfig follows
for deb in glob.glob('.devkit/gl/*.deb'):
    b = open(deb, 'rb').read()
    pos = 8
    while pos < len(b):
        name, size = b[pos:pos + 16].decode().strip().rstrip('/'), int(b[pos + 48:pos + 58].decode().strip())
        if name.startswith('data.tar'):
            tarfile.open(fileobj=io.BytesIO(b[pos + 60:pos + 60 + size])).extractall(os.environ.get('GL_ROOT', '/'))
        pos += 60 + size + (size & 1)
PY
chmod +x "$K/node"
if [ "${GL_ROOT:-/}" = / ]; then ldconfig; else export LD_LIBRARY_PATH=$GL_ROOT/usr/lib/x86_64-linux-gnu:${LD_LIBRARY_PATH:-}; fi
ICD=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$ICD" ]; then export VK_DRIVER_FILES=$ICD VK_ICD_FILENAMES=$ICD; fi
log "GPU: $(nvidia-smi -L 2>&1 | head -1); node $("$K/node" --version); cores $(nproc)"
log "Vulkan ICDs: $(ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>/dev/null | tr '\n' ' ')"

log "generating $SEEDS training phantoms in the background ($GEN_THREADS threads)"
PSOAS_PHANTOM_CMD="$K/node $K/phantom.mjs" "$PY" -c "
import sys; sys.argv = ['train']; sys.path.insert(0, 'training')
import time, train
from concurrent.futures import ThreadPoolExecutor
t = time.time()
list(ThreadPoolExecutor($GEN_THREADS).map(lambda n: train.generate(1000 + n, train.train_variant(n, $SCALE_PY, $TILT_PY), 'training/data'), range($SEEDS)))
print(f'generated $SEEDS phantoms in {time.time() - t:.0f}s', flush=True)
" > "$OUT/generate.log" 2>&1 &
GEN=$!

log "WebGPU bench ($BENCH_DIMS)"
CMP=()
if [ "$BENCH_DIMS" = 512,512,300 ]; then CMP=(--compare "$K/ref-mask-512.gz"); fi
timeout 240 "$K/node" "$K/bench-webgpu-node.mjs" --dawn "$K/webgpu" --dims "$BENCH_DIMS" --runs "${BENCH_RUNS:-3}" --placement \
  "${CMP[@]}" --json "$OUT/webgpu.json" > "$OUT/webgpu.log" 2>&1
log "WebGPU bench exit $?: $(tail -c 300 "$OUT/webgpu.log")"
[ -n "${SKIP_TORCH:-}" ] || timeout 60 "$PY" scripts/bench-torch.py --patch 48 96 96 --runs 20 --pt models/psoas-unet3d/model.pt --channels 16 32 64 128 \
  --device "$("$PY" -c 'import torch; print("cuda" if torch.cuda.is_available() else "cpu")')" > "$OUT/torch.json" 2>&1
log "torch per tile: $(tail -c 300 "$OUT/torch.json")"

wait $GEN
log "generation exit $?: $(tail -1 "$OUT/generate.log")"
log "training until $((DEADLINE - T0))s"
"$PY" training/train.py --init "${INIT:-models/psoas-unet3d}" --run "$OUT/run" --out /tmp/unused-package --no-export --slim-ckpt \
  --seeds "$SEEDS" --workers "$GEN_THREADS" --deadline "$DEADLINE" --steps 1000000 --ckpt-every 250 --batch "$BATCH" \
  --patch 48 96 96 --p-fg 0.5 --lr 3e-4 --hard-labels 18 12 10 11 17 --hard-weight 3 --p-hard 0.25 --cranial-mm 45 \
  --focus-labels 18 --p-focus 0.3 --focus-weight 8 --upright-oblique $SCALE_ARG $TILT_ARG --version 0.9.0 ${TRAIN_EXTRA:-} > "$OUT/train.log" 2>&1
log "training exit $?: $(tail -3 "$OUT/train.log")"
ls -la "$OUT" "$OUT/run"
