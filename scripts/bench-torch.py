"""PyTorch CPU side of `npm run bench` (scripts/bench.ts): times the project's UNet3D forward pass on the same
tile size and count as the Node (onnxruntime-node) side, so the two can be compared as a ratio.

  /usr/bin/python3 scripts/bench-torch.py --patch D H W --runs N --threads T [--pt models/<name>/model.pt]
      [--channels 8 16 32 64] [--classes 3] [--export-onnx out.onnx] [--device cpu|cuda]

--channels / --classes: the U-Net widths and output classes, from the package manifest (architecture.channels,
output.channels), so a retrained model of another width loads; defaults are training/model.py's.

--pt: the state dict training/train.py saves beside model.onnx (UNet3D(softmax=True)). Without it the network is
randomly initialised (forward time does not depend on the weights); --export-onnx then writes that same network
as ONNX (opset 17, dynamic D/H/W, like train.py) so Node can time the identical graph.
Prints one JSON line: {"torch": version, "threads", "patch", "runs", "per_tile_ms": [...], "median_ms", "weights"}.
"""
import argparse
import json
import os
import statistics
import sys
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, 'training'))
from model import UNet3D  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--patch', type=int, nargs=3, required=True, help='D H W (k j i) of one tile')
    ap.add_argument('--runs', type=int, default=5)
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--pt', default=None)
    ap.add_argument('--export-onnx', default=None)
    ap.add_argument('--channels', type=int, nargs='+', default=None, help='U-Net widths per level (manifest architecture.channels)')
    ap.add_argument('--classes', type=int, default=3, help='output channels (manifest output.channels)')
    ap.add_argument('--device', default='cpu', help="cpu (the bench's ratio) or cuda (a GPU machine's reference figure)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = UNet3D(channels=tuple(args.channels), n_classes=args.classes, softmax=True) if args.channels else UNet3D(n_classes=args.classes, softmax=True)
    weights = 'random init'
    if args.pt:
        model.load_state_dict(torch.load(args.pt, map_location='cpu'))
        weights = args.pt
    model.eval()
    x = torch.randn(1, 1, *args.patch)
    dev = torch.device(args.device)
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)  # CUDA calls return before the work ends
    if args.export_onnx:
        torch.onnx.export(model, x, args.export_onnx, opset_version=17, input_names=['image'], output_names=['probabilities'],
                          dynamic_axes={'image': {2: 'D', 3: 'H', 4: 'W'}, 'probabilities': {2: 'D', 3: 'H', 4: 'W'}})
    times = []
    model, xd = model.to(dev), x.to(dev)
    with torch.no_grad():
        model(xd)  # warm-up (allocations, oneDNN primitive creation / cuDNN algorithm choice)
        sync()
        for _ in range(args.runs):
            t = time.perf_counter()
            model(xd)
            sync()
            times.append((time.perf_counter() - t) * 1000)
    print(json.dumps({'torch': torch.__version__, 'device': args.device if dev.type != 'cuda' else f'cuda ({torch.cuda.get_device_name(0)})', 'threads': args.threads, 'patch': args.patch, 'runs': args.runs,
                      'per_tile_ms': [round(t, 1) for t in times], 'median_ms': round(statistics.median(times), 1),
                      'params': sum(p.numel() for p in model.parameters()), 'weights': weights,
                      'channels': list(args.channels) if args.channels else None, 'classes': args.classes}))


if __name__ == '__main__':
    main()
