#!/usr/bin/env python3
"""Train the first psoas model on the project's synthetic phantoms and export it as an ONNX model package.

Data come from the project's ONE phantom generator (TypeScript): this script calls `npm run phantom` for each seed
into training/data/ (git-ignored) and reads the NIfTI image + label files. Augmentation (intensity only; no left-right
flips, laterality matters) happens here.

Usage (from the repository root):
  /usr/bin/python3 training/train.py --out models/psoas-unet3d --steps 600 --seed 1
Runs on CUDA when available (same code on torch 1.13 and 2.x), else CPU with 2 threads.
"""
import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import UNet3D  # noqa: E402
from niftiio import read_nifti, to_lps_canonical  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = (-200.0, 300.0)  # HU window fed to the model


def normalise(hu):
    lo, hi = CLIP
    return (np.clip(hu, lo, hi) - (lo + hi) / 2) / ((hi - lo) / 2)


def generate(seed, variant, data_dir):
    out = os.path.join(data_dir, f'seed{seed}')
    if not os.path.exists(os.path.join(out, 'labels.nii.gz')):
        cmd = ['npm', 'run', '--silent', 'phantom', '--', '--out', out, '--seed', str(seed)] + variant
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


def load_case(d, spacing):
    img, aff = read_nifti(os.path.join(d, 'image.nii.gz'))
    lab, _ = read_nifti(os.path.join(d, 'labels.nii.gz'))
    img, sp = to_lps_canonical(img, aff)
    lab, _ = to_lps_canonical(lab, aff)
    lab = np.where(lab <= 2, lab, 0)  # only psoas labels are trained
    # to torch [1,1,D=k,H=j,W=i]; resample to the model spacing (trilinear image, nearest label)
    t_img = torch.from_numpy(np.ascontiguousarray(normalise(img).transpose(2, 1, 0)))[None, None].float()
    t_lab = torch.from_numpy(np.ascontiguousarray(lab.transpose(2, 1, 0)))[None, None].float()
    size = [max(8, int(round(t_img.shape[2 + a] * sp[2 - a] / spacing[2 - a]))) for a in range(3)]
    t_img = F.interpolate(t_img, size=size, mode='trilinear', align_corners=False)
    t_lab = F.interpolate(t_lab, size=size, mode='nearest')
    return t_img[0], t_lab[0, 0].long()


def random_patch(img, lab, patch, rng, p_fg=0.7):
    d, h, w = img.shape[1:]
    pad = [max(0, patch[2] - w), max(0, patch[1] - h), max(0, patch[0] - d)]
    if any(pad):
        img = F.pad(img, (0, pad[0], 0, pad[1], 0, pad[2]), value=-1.0)
        lab = F.pad(lab, (0, pad[0], 0, pad[1], 0, pad[2]), value=0)
        d, h, w = img.shape[1:]
    fg = torch.nonzero(lab > 0)
    if len(fg) and rng.random() < p_fg:
        c = fg[rng.integers(len(fg))].tolist()
        start = [min(max(0, c[a] - patch[a] // 2 + int(rng.integers(-patch[a] // 4, patch[a] // 4 + 1))), (d, h, w)[a] - patch[a]) for a in range(3)]
    else:
        start = [int(rng.integers(0, (d, h, w)[a] - patch[a] + 1)) for a in range(3)]
    sl = tuple(slice(start[a], start[a] + patch[a]) for a in range(3))
    return img[(slice(None),) + sl], lab[sl]


def dice_ce_loss(prob_logits, target):
    ce = F.cross_entropy(prob_logits, target)
    prob = torch.softmax(prob_logits, dim=1)
    onehot = F.one_hot(target, 3).permute(0, 4, 1, 2, 3).float()
    inter = (prob * onehot).sum(dim=(0, 2, 3, 4))
    den = prob.sum(dim=(0, 2, 3, 4)) + onehot.sum(dim=(0, 2, 3, 4))
    dice = (2 * inter + 1e-5) / (den + 1e-5)
    return ce + (1 - dice[1:].mean())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'models', 'psoas-unet3d'))
    ap.add_argument('--data', default=os.path.join(ROOT, 'training', 'data'))
    ap.add_argument('--seeds', type=int, default=24, help='number of training phantoms (seeds 1000..)')
    ap.add_argument('--steps', type=int, default=600)
    ap.add_argument('--batch', type=int, default=2)
    ap.add_argument('--patch', type=int, nargs=3, default=[64, 64, 64], help='D H W (k j i) of the model grid')
    ap.add_argument('--spacing', type=float, nargs=3, default=[3.0, 3.0, 3.0], help='model spacing x y z (mm)')
    ap.add_argument('--channels', type=int, nargs='+', default=[8, 16, 32, 64], help='U-Net widths per level')
    ap.add_argument('--lr', type=float, default=3e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--version', default='0.1.0')
    args = ap.parse_args()

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if dev == 'cpu':
        torch.set_num_threads(2)
    t0 = time.time()
    # Varied acquisitions from the one generator; in-plane >= 1 mm keeps generation quick (the pipeline resamples
    # to the model spacing anyway). Chest and pelvis presets teach "no psoas" / "psoas cut at the top".
    variants = [['--spacing', '1.5', '1.5', '3'],
                ['--spacing', '1.2', '1.2', '2.5', '--slice-order', 'feet-first'],
                ['--spacing', '1.4', '1.4', '5'],
                ['--spacing', '1.5', '1.5', '3', '--oblique'],
                ['--spacing', '1.3', '1.3', '2', '--preset', 'truncated'],
                ['--spacing', '1.5', '1.5', '3', '--preset', 'chest'],
                ['--spacing', '1.5', '1.5', '3', '--preset', 'pelvis'],
                ['--spacing', '1.0', '1.0', '3', '--slice-order', 'feet-first']]
    cases = []
    for n in range(args.seeds):
        seed = 1000 + n
        d = generate(seed, variants[n % len(variants)], args.data)
        cases.append(load_case(d, args.spacing))
    print(f'{len(cases)} cases loaded in {time.time() - t0:.0f}s on {dev}', flush=True)

    model = UNet3D(channels=tuple(args.channels), softmax=False).to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-5)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=args.steps)
    t1 = time.time()
    for step in range(args.steps):
        xs, ys = [], []
        for _ in range(args.batch):
            img, lab = cases[int(rng.integers(len(cases)))]
            x, y = random_patch(img, lab, args.patch, rng)
            x = x * float(rng.uniform(0.9, 1.1)) + float(rng.uniform(-0.1, 0.1))  # intensity augmentation
            x = x + torch.randn_like(x) * float(rng.uniform(0, 0.05))
            xs.append(x)
            ys.append(y)
        x = torch.stack(xs).to(dev)
        y = torch.stack(ys).to(dev)
        loss = dice_ce_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 20 == 0 or step == args.steps - 1:
            print(f'step {step} loss {loss.item():.4f} ({time.time() - t1:.0f}s)', flush=True)
    train_s = time.time() - t1

    os.makedirs(args.out, exist_ok=True)
    export = UNet3D(channels=tuple(args.channels), softmax=True)
    export.load_state_dict(model.state_dict())
    export.eval()
    onnx_path = os.path.join(args.out, 'model.onnx')
    # state dict beside the ONNX so the benchmark can time the same weights in PyTorch (UNet3D(softmax=True))
    torch.save(export.state_dict(), os.path.join(args.out, 'model.pt'))
    dummy = torch.zeros(1, 1, *args.patch)
    torch.onnx.export(export, dummy, onnx_path, opset_version=17, input_names=['image'], output_names=['probabilities'],
                      dynamic_axes={'image': {2: 'D', 3: 'H', 4: 'W'}, 'probabilities': {2: 'D', 3: 'H', 4: 'W'}})
    sha = hashlib.sha256(open(onnx_path, 'rb').read()).hexdigest()
    lo, hi = CLIP
    manifest = {
        'name': os.path.basename(args.out.rstrip('/')),
        'version': args.version,
        'onnx': 'model.onnx',
        'sha256': sha,
        'input': {
            'name': 'image', 'channels': 1, 'dtype': 'float32', 'layout': 'NCDHW (D=k, H=j, W=i of the model grid)',
            'patch_size': [args.patch[2], args.patch[1], args.patch[0]], 'size_multiple': 8,
            'target_spacing_mm': args.spacing, 'orientation': 'LPS',
            'intensity': {'clip': [lo, hi], 'normalise': {'mean': (lo + hi) / 2, 'std': (hi - lo) / 2}},
        },
        'output': {'name': 'probabilities', 'channels': 3, 'activation': 'softmax',
                   'labels': {'0': 'background', '1': 'psoas_left', '2': 'psoas_right'}},
        'architecture': {'type': 'UNet3D', 'channels': args.channels, 'upsampling': 'Resize(trilinear)+Conv3d',
                         'parameters': sum(p.numel() for p in export.parameters())},
        'postprocess': {'largest_component': True, 'fill_holes': True, 'min_size_ml': 5},
        'sliding_window': {'overlap': 0.5, 'blending': 'gaussian', 'sigma_scale': 0.125},
        'webgpu': {'ops': 'Conv(3D) InstanceNormalization LeakyRelu MaxPool Resize(trilinear) Concat Softmax',
                   'max_storage_buffer_binding_bytes': 4 * 2 * args.channels[0] * args.patch[0] * args.patch[1] * args.patch[2]},
        'provenance': {
            'training_data': f'{args.seeds} synthetic phantoms from the project generator (seeds 1000..{999 + args.seeds}), no real CT',
            'training_command': 'python3 training/train.py ' + ' '.join(sys.argv[1:]),
            'seed': args.seed, 'device': dev, 'torch': torch.__version__,
            'train_seconds': round(train_s), 'date': datetime.date.today().isoformat(),
        },
    }
    with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
    print(f'wrote {onnx_path} sha256={sha} in {train_s:.0f}s')


if __name__ == '__main__':
    main()
