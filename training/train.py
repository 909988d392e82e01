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
import math
import os
import random
import re
import subprocess
import sys
import time

# glibc hands every large freed block back to the kernel and page-faults it in again on the next step; keeping freed
# memory in the process (these three settings, read by glibc only at start-up, hence the re-exec) made a training
# step on this project's 2-core CPU 1.5x faster with 64x64x32 patches (1.41 -> 0.96 s forward+backward, batch 2) and
# 4.7x faster with 96x96x48 (15.2 -> 3.2 s), mostly kernel time before. PSOAS_TRAIN_NO_MALLOC_TUNING=1 turns it off.
MALLOC_ENV = {'MALLOC_MMAP_THRESHOLD_': '4000000000', 'MALLOC_TRIM_THRESHOLD_': '100000000000', 'MALLOC_TOP_PAD_': '1000000000'}
if __name__ == '__main__' and not os.environ.get('PSOAS_TRAIN_NO_MALLOC_TUNING') and \
        any(os.environ.get(k) != v for k, v in MALLOC_ENV.items()):
    os.environ.update(MALLOC_ENV)
    os.execv(sys.executable, [sys.executable] + sys.argv)

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from model import UNet3D  # noqa: E402
from niftiio import read_nifti, to_lps_canonical  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLIP = (-200.0, 300.0)  # HU window fed to the model
# Pseudo label for --bg-muscle-hu: voxels the generator labels background (0) whose HU reads as muscle, i.e. the body
# wall and thigh muscles, which it paints without a label. Not a generator label value (those are 0..25).
BG_MUSCLE = 100


def normalise(hu):
    lo, hi = CLIP
    return (np.clip(hu, lo, hi) - (lo + hi) / 2) / ((hi - lo) / 2)


def generator_version():
    """GENERATOR_VERSION of src/core/phantom/generate.ts: cached phantoms of another version are regenerated."""
    src = open(os.path.join(ROOT, 'src', 'core', 'phantom', 'generate.ts')).read()
    m = re.search(r'GENERATOR_VERSION\s*=\s*(\d+)', src)
    return int(m.group(1)) if m else -1


def generate(seed, variant, data_dir):
    out = os.path.join(data_dir, f'seed{seed}')
    meta = os.path.join(out, 'phantom.json')
    current = os.path.exists(os.path.join(out, 'labels.nii.gz')) and os.path.exists(meta) and \
        json.load(open(meta)).get('generatorVersion') == generator_version() and \
        json.load(open(meta)).get('trainVariant') == variant
    if not current:
        # PSOAS_PHANTOM_CMD: another way to run the same generator CLI, e.g. 'node .devkit/phantom.mjs' (an esbuild
        # bundle of src/cli/phantom.ts) on a machine without npm packages
        prefix = os.environ.get('PSOAS_PHANTOM_CMD', '').split() or ['npm', 'run', '--silent', 'phantom', '--']
        cmd = prefix + ['--out', out, '--seed', str(seed)] + variant
        subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        m = json.load(open(meta))
        m['trainVariant'] = variant
        json.dump(m, open(meta, 'w'))
    return out


def dilate_box(m, r):
    """Box dilation of a bool [D,H,W] tensor by r = (rD, rH, rW) voxels (separable: one axis at a time, a 3D
    kernel is ~100x slower here)."""
    out = m[None, None].float()
    for a in range(3):
        if r[a] <= 0:
            continue
        k, p = [1, 1, 1], [0, 0, 0]
        k[a], p[a] = 2 * r[a] + 1, r[a]
        out = F.max_pool3d(out, kernel_size=k, stride=1, padding=p)
    return out[0, 0] > 0


def cranial_cap(t_lab, spacing, above_mm, margin_mm, top_mm=30.0):
    """Per psoas label, the voxels just ABOVE the muscle's cranial end (model grid, k = LPS +z = head): the box over
    its top `top_mm` footprint, widened by `margin_mm` in x and y, from its top slice up `above_mm`. Where the 0.4.x
    models run on past the muscle (ends_mm: cranial +8..+55 mm, caudal within 5 mm)."""
    cap = torch.zeros_like(t_lab, dtype=torch.bool)
    nk = t_lab.shape[0]
    for v in (1, 2):
        ks = torch.nonzero((t_lab == v).any(dim=2).any(dim=1)).flatten()
        if not len(ks):
            continue
        top = int(ks.max())
        n_top = max(1, int(round(top_mm / spacing[2])))
        foot = (t_lab[max(0, top - n_top):top + 1] == v).any(dim=0)
        # spacing is x y z; the footprint's axes are H = j (y) and W = i (x)
        foot = dilate_box(foot[None], (0, max(1, int(round(margin_mm / spacing[1]))), max(1, int(round(margin_mm / spacing[0])))))[0]
        hi = min(nk, top + 1 + max(1, int(round(above_mm / spacing[2]))))
        cap[top + 1:hi] |= foot[None]
    return cap & (t_lab == 0)


OBLIQUE_MIN_DEG = 0.5  # as src/pipeline/resample.ts: below this tilt a grid counts as axis-aligned


def lps_geometry(affine):
    """(M, origin): LPS mm of voxel index (i, j, k) = M @ (i, j, k) + origin, from a NIfTI RAS affine."""
    flip = np.diag([-1.0, -1.0, 1.0])
    return flip @ affine[:3, :3], flip @ affine[:3, 3]


def tilt_deg(affine):
    """Largest angle between an axis of the grid and the patient axis it is closest to (resample.ts obliqueAngleDeg)."""
    m, _ = lps_geometry(affine)
    dirs = m / np.linalg.norm(m, axis=0)
    return float(np.degrees(np.arccos(np.clip(np.abs(dirs).max(axis=0), -1, 1))).max())


def upright_sampler(shape, affine, spacing, dev='cpu'):
    """For an oblique series: the model grid along the patient axes (LPS) over the bounding box of the series' voxel-edge
    corners, spacing adjusted to tile it exactly (resample.ts patientAlignedGeometry, as the 0.8.1+ pipeline runs
    such a series), and a function that resamples [C, k, j, i] volumes of the series onto it (trilinear, C channels)
    with `outside` where the box lies beyond the series (a value, or 'edge' / 'reflect': the series' edge repeated /
    mirrored). Returns (sample, size [D, H, W], axes): axes are the LPS coordinates (mm) of the grid's voxel centres
    along x, y, z."""
    m, origin = lps_geometry(affine)
    n = np.array(shape[:3], dtype=np.float64)  # i, j, k
    corners = np.array([[(c >> a) & 1 for a in range(3)] for c in range(8)], dtype=np.float64) * n - 0.5
    pts = corners @ m.T + origin
    lo, hi = pts.min(axis=0), pts.max(axis=0)
    dims = [max(1, int(round((hi[a] - lo[a]) / spacing[a]))) for a in range(3)]  # x y z
    sp = [(hi[a] - lo[a]) / dims[a] for a in range(3)]
    axes = [torch.tensor(lo[a] + sp[a] * (np.arange(dims[a]) + 0.5), dtype=torch.float64) for a in range(3)]
    z, y, x = torch.meshgrid(axes[2], axes[1], axes[0], indexing='ij')  # [D, H, W] of LPS mm
    p = torch.stack([x, y, z], dim=-1) - torch.tensor(origin)
    idx = p @ torch.tensor(np.linalg.inv(m)).T  # continuous (i, j, k) of the series
    inside = ((idx >= -0.5) & (idx <= torch.tensor(n) - 0.5)).all(dim=-1)
    norm = (2 * idx / torch.tensor(np.maximum(n - 1, 1)) - 1).float()  # align_corners=True: -1, 1 = edge voxel centres
    grid = norm[None].to(dev)
    inside = inside.to(dev)

    def sample(vol, outside):
        # outside 'edge' / 'reflect': the series' edge repeated / mirrored outwards (input.outside_fill; grid_sample's
        # border / reflection padding, about the edge voxel centres with align_corners=True as resample.ts mirrors; only
        # a corner deeper than the series is thick differs: grid_sample reflects again where resample.ts clamps)
        mode = 'reflection' if outside == 'reflect' else 'border'
        out = F.grid_sample(vol[None].float(), grid, mode='bilinear', padding_mode=mode, align_corners=True)[0]
        if outside in ('edge', 'reflect'):
            return out
        return torch.where(inside[None], out, torch.as_tensor(outside, dtype=out.dtype, device=out.device))
    return sample, [dims[2], dims[1], dims[0]], axes


def load_case(d, spacing, hard_labels=(), hard_margin_mm=0.0, cranial_mm=0.0, focus_labels=(), dev='cpu',
              upright=False, bg_muscle_hu=None, outside_fill='clip_low'):
    """Image, psoas labels, psoas voxel list, 'hard negatives' and 'focus negatives' on the model grid.

    Hard negatives: voxels of the phantom structures in `hard_labels` (e.g. iliacus, liver) within `hard_margin_mm`
    of the psoas, where the 0.3.0 model leaked (same HU as the psoas, touching it); with `cranial_mm` > 0, also
    every non-psoas voxel in the cranial cap above each psoas (see cranial_cap). None when neither is asked for.
    Focus negatives: the hard negatives of the structures in `focus_labels` only (e.g. 18, the iliacus, which has the
    psoas's HU and touches it with no edge in the image), to centre more patches on and weigh more; None without.
    The tensors are made and kept on `dev` (on a GPU the resampling takes milliseconds and patches need no copy).
    With `upright`, an oblique series is resampled onto a grid along the patient axes (upright_sampler), as the
    pipeline runs it when a package sets input.align_to_patient_axes, its corners beyond the series filled as
    `outside_fill` says (input.outside_fill: 'clip_low', 'edge' or 'reflect').
    With `bg_muscle_hu` = (lo, hi), background voxels whose HU (source grid, noise included) is within [lo, hi] get the
    pseudo label BG_MUSCLE, so `hard_labels` / `focus_labels` can name them like any phantom structure.
    """
    img, aff = read_nifti(os.path.join(d, 'image.nii.gz'))
    lab_all, _ = read_nifti(os.path.join(d, 'labels.nii.gz'))
    if bg_muscle_hu is not None:
        lo, hi = bg_muscle_hu
        lab_all = np.where((lab_all == 0) & (img >= lo) & (img <= hi), BG_MUSCLE, lab_all).astype(lab_all.dtype)
    if upright and tilt_deg(aff) >= OBLIQUE_MIN_DEG:
        return load_case_upright(img, lab_all, aff, spacing, hard_labels, hard_margin_mm, cranial_mm, focus_labels, dev,
                                 outside_fill)
    img, sp = to_lps_canonical(img, aff)
    lab_all, _ = to_lps_canonical(lab_all, aff)
    lab = np.where(lab_all <= 2, lab_all, 0)  # only psoas labels are trained
    # to torch [1,1,D=k,H=j,W=i]; resample to the model spacing (trilinear image, nearest label)
    t_img = torch.from_numpy(np.ascontiguousarray(normalise(img).transpose(2, 1, 0)))[None, None].float().to(dev)
    t_lab = torch.from_numpy(np.ascontiguousarray(lab.transpose(2, 1, 0))).long().to(dev)
    size = [max(8, int(round(t_img.shape[2 + a] * sp[2 - a] / spacing[2 - a]))) for a in range(3)]
    t_img = F.interpolate(t_img, size=size, mode='trilinear', align_corners=False)
    # labels: one-hot resampled trilinearly, then argmax, so a coarse voxel takes the class covering most of it
    # (nearest-neighbour would copy whichever source voxel centre happens to be closest)
    onehot = F.one_hot(t_lab, 3).permute(3, 0, 1, 2)[None].float()
    t_lab = F.interpolate(onehot, size=size, mode='trilinear', align_corners=False)[0].argmax(0)
    return finish_case(t_img, t_lab, lab_all_grid(lab_all, dev), lambda m: F.interpolate(
        m[None, None].float(), size=size, mode='trilinear', align_corners=False)[0, 0] > 0.5,
        spacing, hard_labels, hard_margin_mm, cranial_mm, focus_labels)


def lab_all_grid(lab_all, dev):
    """The phantom's full label map (every structure), as a [k, j, i] tensor on `dev`."""
    return torch.from_numpy(np.ascontiguousarray(lab_all.transpose(2, 1, 0))).long().to(dev)


def finish_case(t_img, t_lab, lab_all, to_model, spacing, hard_labels, hard_margin_mm, cranial_mm, focus_labels):
    """Psoas voxel list, hard and focus negatives on the model grid; `to_model` takes a bool mask of the source grid
    ([k, j, i]) to the model grid."""
    fg = torch.nonzero(t_lab > 0)
    hard = None
    # dilation of the psoas by the margin (a box in model voxels; spacing x y z → kernel W H D)
    near = dilate_box(t_lab > 0, [max(1, int(round(hard_margin_mm / spacing[2 - a]))) for a in range(3)]) \
        if hard_labels or focus_labels else None
    if hard_labels:
        hard = to_model(torch.isin(lab_all, torch.tensor(hard_labels, device=lab_all.device))) & near & (t_lab == 0)
    focus = None
    if focus_labels:
        focus = to_model(torch.isin(lab_all, torch.tensor(focus_labels, device=lab_all.device))) & near & (t_lab == 0)
        hard = focus if hard is None else hard | focus
    if cranial_mm > 0:
        cap = cranial_cap(t_lab, spacing, cranial_mm, hard_margin_mm)
        hard = cap if hard is None else hard | cap
    # labels kept as uint8 (values 0-2): an int64 map is 8x the memory, and 160 cases of them filled this machine's
    # 24 GiB before the first step (session 18); random_patch's patches are widened again for the loss
    return t_img[0], t_lab.to(torch.uint8), fg, hard, focus


def load_case_upright(img, lab_all, aff, spacing, hard_labels, hard_margin_mm, cranial_mm, focus_labels, dev,
                      outside_fill='clip_low'):
    """load_case for an oblique series on the upright model grid (no axis permutation needed: the grid is LPS).
    With outside_fill 'edge' or 'reflect' the labels are continued outwards like the image, so the two stay consistent."""
    if outside_fill not in ('clip_low', 'edge', 'reflect'):
        raise ValueError(f"outside_fill must be 'clip_low', 'edge' or 'reflect', got {outside_fill!r}")
    sample, _, _ = upright_sampler(img.shape, aff, spacing, dev)
    cont = outside_fill if outside_fill != 'clip_low' else None  # continued like the image, or None: constant fill
    t_img = sample(torch.from_numpy(np.ascontiguousarray(normalise(img).transpose(2, 1, 0)))[None].to(dev),
                   cont or -1.0)[None]
    lab_src = lab_all_grid(lab_all, dev)
    lab = torch.where(lab_src <= 2, lab_src, torch.zeros_like(lab_src))
    onehot = F.one_hot(lab, 3).permute(3, 0, 1, 2).float()
    t_lab = sample(onehot, cont or 0.0).argmax(0)  # clip_low, outside the series: all channels 0 → background
    return finish_case(t_img, t_lab, lab_src, lambda m: sample(m[None].float(), cont or 0.0)[0] > 0.5,
                       spacing, hard_labels, hard_margin_mm, cranial_mm, focus_labels)


def random_patch(img, lab, fg, patch, rng, p_fg=0.7, hard=None, hard_idx=None, p_hard=0.0, focus=None,
                 focus_idx=None, p_focus=0.0):
    """A training patch (image, labels, hard-negative mask or None, focus-negative mask or None). Centred on a focus
    negative with probability p_focus, else on a hard negative with probability p_hard, else on a psoas voxel with
    probability p_fg, else anywhere."""
    d, h, w = img.shape[1:]
    pad = [max(0, patch[2] - w), max(0, patch[1] - h), max(0, patch[0] - d)]
    if any(pad):
        img = F.pad(img, (0, pad[0], 0, pad[1], 0, pad[2]), value=-1.0)
        lab = F.pad(lab, (0, pad[0], 0, pad[1], 0, pad[2]), value=0)
        if hard is not None:
            hard = F.pad(hard, (0, pad[0], 0, pad[1], 0, pad[2]), value=False)
        if focus is not None:
            focus = F.pad(focus, (0, pad[0], 0, pad[1], 0, pad[2]), value=False)
        d, h, w = img.shape[1:]

    def around(c):  # a patch start near voxel c: jittered by up to a quarter patch, kept inside the volume
        return [min(max(0, c[a] - patch[a] // 2 + int(rng.integers(-patch[a] // 4, patch[a] // 4 + 1))), (d, h, w)[a] - patch[a]) for a in range(3)]

    # the extra draws only when hard / focus negatives are on: earlier phases' commands replay the same patches
    if p_focus > 0 and focus_idx is not None and len(focus_idx) and rng.random() < p_focus:
        start = around(focus_idx[rng.integers(len(focus_idx))].tolist())
    elif p_hard > 0 and hard_idx is not None and len(hard_idx) and rng.random() < p_hard:
        start = around(hard_idx[rng.integers(len(hard_idx))].tolist())
    elif len(fg) and rng.random() < p_fg:
        # a random foreground SLICE first, then a voxel on it: the thin cranial and caudal ends weigh as much per
        # millimetre as the bulky belly (uniform voxel sampling would rarely visit them)
        zs = torch.unique(fg[:, 0])
        z = int(zs[rng.integers(len(zs))])
        on = fg[fg[:, 0] == z]
        start = around(on[rng.integers(len(on))].tolist())
    else:
        start = [int(rng.integers(0, (d, h, w)[a] - patch[a] + 1)) for a in range(3)]
    sl = tuple(slice(start[a], start[a] + patch[a]) for a in range(3))
    return img[(slice(None),) + sl], lab[sl], (hard[sl] if hard is not None else None), \
        (focus[sl] if focus is not None else None)


def dice_ce_loss(prob_logits, target, weight=None):
    """Cross-entropy (voxel-weighted when `weight` is given: a weighted mean) + soft Dice of the two psoas classes."""
    if weight is None:
        ce = F.cross_entropy(prob_logits, target)
    else:
        ce = (F.cross_entropy(prob_logits, target, reduction='none') * weight).sum() / weight.sum()
    prob = torch.softmax(prob_logits, dim=1)
    onehot = F.one_hot(target, 3).permute(0, 4, 1, 2, 3).float()
    inter = (prob * onehot).sum(dim=(0, 2, 3, 4))
    den = prob.sum(dim=(0, 2, 3, 4)) + onehot.sum(dim=(0, 2, 3, 4))
    dice = (2 * inter + 1e-5) / (den + 1e-5)
    return ce + (1 - dice[1:].mean())


def distill_kl(student_logits, teacher_prob):
    """Mean over voxels of KL(teacher || student), nats: how far the student's class distribution has moved from the
    frozen starting weights' (an anchor for a fine-tune, learning without forgetting). 0 when they agree."""
    log_s = F.log_softmax(student_logits, dim=1)
    log_t = torch.log(teacher_prob.clamp_min(1e-8))
    return (teacher_prob * (log_t - log_s)).sum(dim=1).mean()


def lr_at(step, total, base, warmup=50):
    """Linear warm-up, then cosine decay to 2% of the base rate at `total` steps (step-based: reproducible)."""
    if step < warmup:
        return base * (step + 1) / warmup
    t = min(1.0, (step - warmup) / max(1, total - warmup))
    return base * (0.02 + 0.98 * 0.5 * (1 + np.cos(np.pi * t)))


VARIANTS = [['--spacing', '1.5', '1.5', '3'],
            ['--spacing', '1.2', '1.2', '2.5', '--slice-order', 'feet-first'],
            ['--spacing', '1.4', '1.4', '5'],
            ['--spacing', '1.5', '1.5', '3', '--oblique'],
            ['--spacing', '1.3', '1.3', '2', '--preset', 'truncated'],
            ['--spacing', '1.5', '1.5', '3', '--preset', 'chest'],
            ['--spacing', '1.5', '1.5', '3', '--preset', 'pelvis'],
            ['--spacing', '1.0', '1.0', '3', '--slice-order', 'feet-first'],
            ['--spacing', '0.9', '0.9', '2', '--oblique', '--slice-order', 'feet-first'],
            ['--spacing', '1.1', '1.1', '4']]


def train_variant(n, psoas_scale_range=None, oblique_tilt_range=None):
    """Generator CLI options of training phantom n (seed 1000 + n): the acquisition variant cycled over the seeds and,
    with `psoas_scale_range` (LO, HI), a psoas size factor drawn uniformly from it by the seed (the seeds' own factors
    are 0.79..1.21, bunched around 1). Session 21 found the masks regress towards the typical size: small muscles
    over-, large ones under-estimated (model card, "Volume bias against muscle size")."""
    v = list(VARIANTS[n % len(VARIANTS)])
    if psoas_scale_range:
        lo, hi = psoas_scale_range
        v += ['--psoas-scale', f'{lo + (hi - lo) * random.Random(1000 + n).random():.3f}']
    if oblique_tilt_range and '--oblique' in v:
        # With `oblique_tilt_range` (LO, HI) in degrees, the oblique variants are tilted by an angle drawn uniformly from
        # it about an axis drawn uniformly on the sphere, by the seed, instead of every one by 16 deg about (1, 0.5, 0.25).
        r = random.Random(f'oblique-tilt-{1000 + n}')
        lo, hi = oblique_tilt_range
        axis = [r.gauss(0, 1) for _ in range(3)]
        norm = math.sqrt(sum(a * a for a in axis))
        i = v.index('--oblique')
        v[i:i + 1] = ['--oblique-tilt', f'{lo + (hi - lo) * r.random():.2f}'] + [f'{a / norm:.4f}' for a in axis]
    return v


def trainable_mask(names, prefixes):
    """Which of the parameter names `names` a phase with `--trainable prefixes` trains: those equal to a prefix or
    below it as a module path ('dec.2' takes 'dec.2.c1.weight', not 'dec.20.c1.weight'). A prefix that matches no
    parameter is a typo, a ValueError. Why freeze: five CPU fine-tunes of all weights (sessions 16-19, 21) moved the
    cranial end of oblique series; training only the last decoder level changes how the boundary is placed from
    local evidence and leaves the context that finds the muscle as it is. (Session 22's probe with up.2 dec.2 head
    overshot all the same: model card, "Probe (session 22)".)"""
    def under(n, p):
        return n == p or n.startswith(p + '.')
    keep = [any(under(n, p) for p in prefixes) for n in names]
    unused = [p for p in prefixes if not any(under(n, p) for n in names)]
    if unused:
        raise ValueError(f'--trainable: no parameter under {", ".join(unused)} (module paths such as enc.0, up.2, '
                         f'dec.2, head)')
    return keep


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--out', default=os.path.join(ROOT, 'models', 'psoas-unet3d'))
    ap.add_argument('--data', default=os.path.join(ROOT, 'training', 'data'))
    ap.add_argument('--run', default=os.path.join(ROOT, 'training', 'runs', 'latest'),
                    help='checkpoint folder (git-ignored): ckpt.pt is written every --ckpt-every steps')
    ap.add_argument('--seeds', type=int, default=30, help='number of training phantoms (seeds 1000..)')
    ap.add_argument('--steps', type=int, default=3000)
    ap.add_argument('--batch', type=int, default=2, help='>= 2: batch 1 hits a slow InstanceNorm path on CPU torch')
    ap.add_argument('--accum', type=int, default=1,
                    help='gradient accumulation: each optimiser step sums this many batches of --batch patches (e.g. '
                         '--batch 2 --accum 4 gives batch 8\'s gradient at batch 2\'s memory; the Dice term is per batch)')
    ap.add_argument('--patch', type=int, nargs=3, default=[32, 64, 64], help='D H W (k j i) of the model grid')
    ap.add_argument('--spacing', type=float, nargs=3, default=[2.0, 2.0, 3.0], help='model spacing x y z (mm)')
    ap.add_argument('--channels', type=int, nargs='+', default=[16, 32, 64, 128], help='U-Net widths per level')
    ap.add_argument('--lr', type=float, default=2e-3)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--version', default='0.2.0')
    ap.add_argument('--resume', action='store_true', help='continue from <run>/ckpt.pt')
    ap.add_argument('--export-only', action='store_true', help='export <run>/ckpt.pt as the package, no training')
    ap.add_argument('--init', help='start from the weights of a package folder (its model.pt + manifest.json): a warm '
                    'restart with a fresh optimiser and its own lr schedule; the package\'s training phases, steps and '
                    'seconds carry over into the provenance')
    ap.add_argument('--ckpt-every', type=int, default=100)
    ap.add_argument('--workers', type=int, default=1,
                    help='phantoms generated and loaded this many at a time (threads; generation runs the node CLI)')
    ap.add_argument('--time-budget', type=float,
                    help='seconds of training: after --budget-probe steps the step count (and so the learning-rate '
                         'schedule) is set to what fits; the resolved --steps is recorded in the phase')
    ap.add_argument('--budget-probe', type=int, default=40, help='steps timed for --time-budget (> 10: the first 10 are not)')
    ap.add_argument('--deadline', type=float, help='unix time by which training must end: sets --time-budget when the '
                                                   'training loop starts (after generating and loading the phantoms)')
    ap.add_argument('--stop-at', type=float,
                    help='unix time at which to checkpoint and stop WITHOUT changing the schedule (unlike --deadline): one '
                         'leg of a phase spread over several sessions of a CPU machine; the next leg passes the same '
                         'options with --resume. Nothing is exported until the last leg ends at --steps')
    ap.add_argument('--no-export', action='store_true', help='train and checkpoint only (export later, --export-only)')
    ap.add_argument('--slim-ckpt', action='store_true',
                    help='checkpoints without the optimizer state (a third of the size; --resume then starts a fresh '
                         'AdamW): small enough to copy back from a lent GPU machine')
    ap.add_argument('--p-fg', type=float, default=0.7, help='fraction of patches centred on a psoas voxel')
    ap.add_argument('--hard-labels', type=int, nargs='*', default=[],
                    help='phantom label values (src/core/phantom/labels.ts) whose voxels near the psoas are hard '
                    'negatives, e.g. 18 (iliacus) 12 (liver) 10 11 (kidneys)')
    ap.add_argument('--hard-margin-mm', type=float, default=15.0, help='"near the psoas": within this box radius')
    ap.add_argument('--hard-weight', type=float, default=1.0, help='cross-entropy weight of hard-negative voxels')
    ap.add_argument('--p-hard', type=float, default=0.0, help='fraction of patches centred on a hard negative')
    ap.add_argument('--cranial-mm', type=float, default=0.0,
                    help='> 0: hard negatives also in the cranial cap, this far above each psoas (see cranial_cap)')
    ap.add_argument('--focus-labels', type=int, nargs='*', default=[],
                    help='phantom label values whose near-psoas voxels are also hard negatives and get their own patch '
                    'share and weight, e.g. 18 (iliacus)')
    ap.add_argument('--p-focus', type=float, default=0.0, help='fraction of patches centred on a focus negative')
    ap.add_argument('--focus-weight', type=float, help='cross-entropy weight of focus negatives (default: --hard-weight)')
    ap.add_argument('--upright-oblique', action='store_true',
                    help='oblique phantoms on a model grid along the patient axes (as a package with '
                    'input.align_to_patient_axes runs them; check with training/check_upright.py)')
    ap.add_argument('--outside-fill', choices=['clip_low', 'edge', 'reflect'],
                    help="with --upright-oblique: what the upright grid holds beyond the series (the package's "
                    "input.outside_fill; default: the --init package's, else clip_low)")
    ap.add_argument('--bg-muscle-hu', type=float, nargs=2, metavar=('LO', 'HI'),
                    help=f'background voxels with HU in [LO, HI] (the body wall and thigh muscles, unlabelled in the '
                    f'phantoms) get the pseudo label {BG_MUSCLE}, e.g. for --focus-labels 18 {BG_MUSCLE}')
    ap.add_argument('--psoas-scale-range', type=float, nargs=2, metavar=('LO', 'HI'),
                    help='training phantoms get a psoas size factor drawn uniformly from [LO, HI] by their seed instead '
                    'of their own (0.79..1.21, bunched around 1), e.g. 0.7 1.3 (see train_variant)')
    ap.add_argument('--oblique-tilt-range', type=float, nargs=2, metavar=('LO', 'HI'),
                    help='oblique training phantoms get a tilt in degrees drawn uniformly from [LO, HI] about an axis '
                    'drawn by their seed, instead of all 16 deg about (1, 0.5, 0.25), e.g. 5 30 (see train_variant)')
    ap.add_argument('--distill', type=float, default=0.0, metavar='W',
                    help='with --init: add W x KL(starting weights || model) over every voxel of each patch, so a '
                    'fine-tune keeps the starting weights\' answers where its labels do not pull it away (aimed at '
                    'the cranial drift of the CPU phases of sessions 16-24)')
    ap.add_argument('--trainable', nargs='+', metavar='PREFIX',
                    help='train only the parameters whose names start with one of these module paths and freeze the '
                    'rest, e.g. up.2 dec.2 head (the full-resolution decoder level and the output conv; see '
                    'trainable_mask)')
    args = ap.parse_args()
    if args.budget_probe <= 10:
        ap.error('--budget-probe must be > 10')
    if args.psoas_scale_range and not (0.5 <= args.psoas_scale_range[0] < args.psoas_scale_range[1] <= 1.5):
        ap.error('--psoas-scale-range needs 0.5 <= LO < HI <= 1.5')
    if args.oblique_tilt_range and not (0 < args.oblique_tilt_range[0] < args.oblique_tilt_range[1] <= 45):
        ap.error('--oblique-tilt-range needs 0 < LO < HI <= 45 (degrees; the phantom CLI takes tilts up to 45)')
    if args.focus_weight is None:
        args.focus_weight = args.hard_weight
    if args.distill < 0 or (args.distill > 0 and not args.init):
        ap.error('--distill needs --init (the teacher is the starting package) and W >= 0')

    if args.outside_fill is None:
        init_manifest = os.path.join(args.init, 'manifest.json') if args.init else None
        inherited_input = json.load(open(init_manifest)).get('input', {}) if init_manifest and os.path.exists(init_manifest) else {}
        args.outside_fill = inherited_input.get('outside_fill', 'clip_low')

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    dev = 'cuda' if torch.cuda.is_available() else 'cpu'
    if dev == 'cpu':
        torch.set_num_threads(int(os.environ.get('TRAIN_THREADS', '2')))
    else:
        torch.backends.cudnn.benchmark = True  # fixed patch size: let cuDNN pick the fastest 3D convolutions
    os.makedirs(args.run, exist_ok=True)
    ckpt_path = os.path.join(args.run, 'ckpt.pt')
    model = UNet3D(channels=tuple(args.channels), softmax=False).to(dev)
    if args.trainable:
        try:
            keep = trainable_mask([n for n, _ in model.named_parameters()], args.trainable)
        except ValueError as e:
            ap.error(str(e))
        for p, k in zip(model.parameters(), keep):
            p.requires_grad_(k)
        print(f'training {sum(p.numel() for p in model.parameters() if p.requires_grad):,} of '
              f'{sum(p.numel() for p in model.parameters()):,} parameters ({" ".join(args.trainable)})', flush=True)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr, weight_decay=1e-5)
    step0, train_s, history, commands = 0, 0.0, [], []
    base_steps, base_s = 0, 0.0  # steps and seconds already in the --init weights (0 without --init)
    if args.init:
        model.load_state_dict(torch.load(os.path.join(args.init, 'model.pt'), map_location=dev))
        init_manifest = json.load(open(os.path.join(args.init, 'manifest.json')))
        prov = init_manifest['provenance']
        base_steps, base_s = int(prov['steps']), float(prov['train_seconds'])
        commands = list(prov.get('training_phases', []))
        print(f'initialised from {args.init} ({base_steps} steps, {base_s:.0f}s trained)', flush=True)
    teacher = None
    if args.distill > 0 and not args.export_only:
        # the --init weights just loaded, frozen, before a --resume replaces the model's (InstanceNorm keeps no
        # running statistics, so eval and train mode compute the same)
        teacher = UNet3D(channels=tuple(args.channels), softmax=True).to(dev)
        teacher.load_state_dict(model.state_dict())
        teacher.eval().requires_grad_(False)
    if args.resume or args.export_only:
        ck = torch.load(ckpt_path, map_location=dev)
        model.load_state_dict(ck['model'])
        if 'opt' in ck:  # absent in a --slim-ckpt checkpoint
            opt.load_state_dict(ck['opt'])
        step0, train_s, history = ck['step'], ck['train_s'], ck.get('history', [])
        commands = ck.get('commands', [])
        base_steps, base_s = ck.get('base_steps', 0), ck.get('base_s', 0.0)
        rng = np.random.default_rng([args.seed, step0])
        print(f'resumed {ckpt_path} at step {step0} ({train_s:.0f}s trained)', flush=True)

    if not args.export_only:
        commands.append({'command': 'python3 training/train.py ' + ' '.join(sys.argv[1:]),
                         'from_step': base_steps + step0, 'to_step': base_steps + args.steps, 'seeds': args.seeds,
                         'device': dev if dev == 'cpu' else f'cuda ({torch.cuda.get_device_name(0)})',
                         'torch': torch.__version__})
        if args.init and not args.resume:  # which weights this phase started from (a resumed leg: see the first leg)
            commands[-1]['init'] = (f"{init_manifest['name']} {init_manifest['version']} "
                                    f"(onnx sha256 {init_manifest['sha256']}), fresh AdamW")

    def save(step):
        torch.save({'model': model.state_dict(), **({} if args.slim_ckpt else {'opt': opt.state_dict()}), 'step': step, 'train_s': train_s,
                    'history': history, 'args': vars(args), 'commands': commands,
                    'base_steps': base_steps, 'base_s': base_s}, ckpt_path + '.tmp')
        os.replace(ckpt_path + '.tmp', ckpt_path)

    if not args.export_only:
        t0 = time.time()
        # Varied acquisitions from the one generator; the pipeline resamples to the model spacing anyway. Chest and
        # pelvis presets teach "no psoas" / "psoas cut at the top".
        def one(n):
            d = generate(1000 + n, train_variant(n, args.psoas_scale_range, args.oblique_tilt_range), args.data)
            return load_case(d, args.spacing, tuple(args.hard_labels), args.hard_margin_mm, args.cranial_mm,
                             tuple(args.focus_labels), dev, upright=args.upright_oblique,
                             bg_muscle_hu=args.bg_muscle_hu, outside_fill=args.outside_fill)
        if args.workers > 1:
            from concurrent.futures import ThreadPoolExecutor
            with ThreadPoolExecutor(args.workers) as pool:
                cases = list(pool.map(one, range(args.seeds)))
        else:
            cases = [one(n) for n in range(args.seeds)]
        hard_idx = [torch.nonzero(c[3]) if c[3] is not None else None for c in cases]
        focus_idx = [torch.nonzero(c[4]) if c[4] is not None else None for c in cases]
        if args.hard_labels or args.cranial_mm > 0 or args.focus_labels:
            print('hard-negative voxels per case (model grid):', [int(len(h)) for h in hard_idx], flush=True)
        if args.focus_labels:
            print('focus-negative voxels per case (model grid):', [int(len(h)) for h in focus_idx], flush=True)
        print(f'{len(cases)} cases loaded in {time.time() - t0:.0f}s on {dev}', flush=True)
        t1 = time.time() - train_s
        t_probe = time.time()
        if args.deadline:
            args.time_budget = max(1.0, args.deadline - t_probe)
            print(f'deadline: {args.time_budget:.0f}s of training left', flush=True)
        step = step0
        while step < args.steps:
            for g in opt.param_groups:
                g['lr'] = lr_at(step, args.steps, args.lr)
            opt.zero_grad()
            loss_sum = 0.0
            for _ in range(args.accum):
                xs, ys, ws = [], [], []
                for _ in range(args.batch):
                    ci = int(rng.integers(len(cases)))
                    img, lab, fg, hard, focus = cases[ci]
                    x, y, hm, fm = random_patch(img, lab, fg, args.patch, rng, p_fg=args.p_fg, hard=hard,
                                                hard_idx=hard_idx[ci], p_hard=args.p_hard, focus=focus,
                                                focus_idx=focus_idx[ci], p_focus=args.p_focus)
                    # voxel weights of the cross-entropy: only when hard or focus negatives weigh more
                    if args.hard_weight != 1.0 or args.focus_weight != 1.0:
                        wv = torch.ones_like(y, dtype=torch.float32)
                        if hm is not None:
                            wv = wv + (args.hard_weight - 1.0) * hm.float()
                        if fm is not None:  # focus voxels are hard too: their weight replaces the hard one
                            wv = wv + (args.focus_weight - args.hard_weight) * fm.float()
                        ws.append(wv)
                    x = x * float(rng.uniform(0.9, 1.1)) + float(rng.uniform(-0.1, 0.1))  # intensity augmentation
                    x = x + torch.randn_like(x) * float(rng.uniform(0, 0.05))
                    xs.append(x)
                    ys.append(y)
                x = torch.stack(xs).to(dev)
                y = torch.stack(ys).long().to(dev)
                w = torch.stack(ws).to(dev) if ws else None
                logits = model(x)
                loss = dice_ce_loss(logits, y, w)
                if teacher is not None:
                    with torch.no_grad():
                        t_prob = teacher(x)
                    loss = loss + args.distill * distill_kl(logits, t_prob)
                (loss / args.accum).backward()
                loss_sum += loss.item() / args.accum
            opt.step()
            history.append(round(loss_sum, 4))
            train_s = time.time() - t1
            if step + 1 == step0 + 10:
                t_warm = time.time()  # the first steps are slow (cuDNN tries its algorithms): not in the estimate
            if args.time_budget and step + 1 == step0 + args.budget_probe and not args.resume:
                per_step = (time.time() - t_warm) / (args.budget_probe - 10)
                args.steps = step + 1 + max(0, int((args.time_budget - (time.time() - t_probe)) / per_step))
                commands[-1]['to_step'] = base_steps + args.steps
                commands[-1]['command'] += f' (--time-budget resolved: --steps {args.steps})'
                print(f'time budget {args.time_budget:.0f}s at {per_step * 1000:.0f} ms/step: --steps {args.steps}', flush=True)
            if step % 20 == 0 or step == args.steps - 1:
                recent = history[-20:]
                print(f'step {step} loss {loss_sum:.4f} mean20 {sum(recent) / len(recent):.4f} '
                      f'lr {lr_at(step, args.steps, args.lr):.2e} ({train_s:.0f}s)', flush=True)
            if (step + 1) % args.ckpt_every == 0 or step == args.steps - 1:
                save(step + 1)
            step += 1
            if args.stop_at and time.time() >= args.stop_at and step < args.steps:
                commands[-1]['to_step'] = base_steps + step  # this leg's end; the next leg records its own
                save(step)
                print(f'--stop-at reached: checkpoint at step {step} of {args.steps} ({train_s:.0f}s trained); '
                      f'continue with the same options and --resume', flush=True)
                return
        step0 = args.steps
    if args.no_export:
        return
    export(args, model, dev, base_steps + step0, base_s + train_s, history, commands)


def training_data(phases, seeds_now):
    """Which phantoms each training phase saw (phases recorded before 'seeds' was stored: read from --seeds)."""
    def seeds_of(ph):
        m = re.search(r'--seeds\s+(\d+)', ph['command'])
        return ph.get('seeds', int(m.group(1)) if m else 30)  # 30: train.py's --seeds default
    parts = [f"steps {ph['from_step']}-{ph['to_step']} on {seeds_of(ph)} (seeds 1000..{999 + seeds_of(ph)})"
             for ph in phases] or [f'{seeds_now} (seeds 1000..{999 + seeds_now})']
    return (f'synthetic phantoms from the project generator (generator version {generator_version()}), no real CT: '
            + '; '.join(parts))


def export(args, model, dev, steps_done, train_s, history, commands):
    os.makedirs(args.out, exist_ok=True)
    export = UNet3D(channels=tuple(args.channels), softmax=True)
    export.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    export.eval()
    onnx_path = os.path.join(args.out, 'model.onnx')
    # state dict beside the ONNX so the benchmark can time the same weights in PyTorch (UNet3D(softmax=True))
    torch.save(export.state_dict(), os.path.join(args.out, 'model.pt'))
    dummy = torch.zeros(1, 1, *args.patch)
    torch.onnx.export(export, dummy, onnx_path, opset_version=17, input_names=['image'], output_names=['probabilities'],
                      dynamic_axes={'image': {2: 'D', 3: 'H', 4: 'W'}, 'probabilities': {2: 'D', 3: 'H', 4: 'W'}})
    sha = hashlib.sha256(open(onnx_path, 'rb').read()).hexdigest()
    lo, hi = CLIP
    # A warm restart (--init) keeps its package's post-processing, sliding-window and align_to_patient_axes settings (chosen on the
    # validation set, e.g. hu_refine): the new weights are compared with the old package under the same settings.
    inherited = json.load(open(os.path.join(args.init, 'manifest.json'))) if args.init else {}
    cmd = [a for a in sys.argv[1:] if a not in ('--resume', '--export-only')]
    manifest = {
        'name': os.path.basename(args.out.rstrip('/')),
        'version': args.version,
        'onnx': 'model.onnx',
        'sha256': sha,
        'input': {
            'name': 'image', 'channels': 1, 'dtype': 'float32', 'layout': 'NCDHW (D=k, H=j, W=i of the model grid)',
            'patch_size': [args.patch[2], args.patch[1], args.patch[0]], 'size_multiple': 2 ** (len(args.channels) - 1),
            'target_spacing_mm': args.spacing, 'orientation': 'LPS',
            **({'align_to_patient_axes': inherited['input']['align_to_patient_axes']}
               if 'align_to_patient_axes' in inherited.get('input', {}) else {}),
            **({'outside_fill': args.outside_fill} if args.outside_fill != 'clip_low' else {}),
            'intensity': {'clip': [lo, hi], 'normalise': {'mean': (lo + hi) / 2, 'std': (hi - lo) / 2}},
        },
        'output': {'name': 'probabilities', 'channels': 3, 'activation': 'softmax',
                   'labels': {'0': 'background', '1': 'psoas_left', '2': 'psoas_right'}},
        'architecture': {'type': 'UNet3D', 'channels': args.channels, 'upsampling': 'Resize(trilinear)+Conv3d',
                         'parameters': sum(p.numel() for p in export.parameters())},
        'postprocess': inherited.get('postprocess', {'largest_component': True, 'fill_holes': True, 'min_size_ml': 5}),
        'sliding_window': inherited.get('sliding_window', {'overlap': 0.5, 'blending': 'gaussian', 'sigma_scale': 0.125}),
        'webgpu': {'ops': 'Conv(3D) InstanceNormalization LeakyRelu MaxPool Resize(trilinear) Concat Softmax',
                   'max_storage_buffer_binding_bytes': 4 * 2 * args.channels[0] * args.patch[0] * args.patch[1] * args.patch[2]},
        'provenance': {
            'training_data': training_data(commands, args.seeds),
            # the command that trained these weights (an --export-only run only converts them)
            'training_command': commands[-1]['command'] if args.export_only and commands else 'python3 training/train.py ' + ' '.join(cmd),
            'training_phases': commands,
            'seed': args.seed, 'steps': steps_done, 'batch': args.batch,
            # where the last phase trained (an --export-only run elsewhere must not claim its own device)
            'device': (commands[-1].get('device') if commands else None) or dev,
            'torch': (commands[-1].get('torch') if commands else None) or torch.__version__,
            'train_seconds': round(train_s), 'final_loss_mean_last_100': round(float(np.mean(history[-100:])), 4) if history else None,
            'date': datetime.date.today().isoformat(),
        },
    }
    with open(os.path.join(args.out, 'manifest.json'), 'w') as f:
        json.dump(manifest, f, indent=2)
    print(f'wrote {onnx_path} sha256={sha} after {steps_done} steps, {train_s:.0f}s')


if __name__ == '__main__':
    main()
