"""Checks train.py's upright resampling of oblique phantoms (--upright-oblique), on the CPU in about a minute.

    python3 training/check_upright.py [--seed 7001] [--data /tmp/psoas-check-upright] [--tilt DEG X Y Z]

1. A phantom that is NOT oblique, resampled by the upright path, must equal the standard path (F.interpolate onto
   the exact-extent grid): the same grid, so the same image values (float error) and labels.
2. The same seed generated on the oblique grid (16° about (1, 0.5, 0.25), or --tilt's, as train.py
   --oblique-tilt-range draws them) and resampled upright must show the same
   anatomy as the straight one: per psoas label, volume and centroid (LPS mm) close to the straight phantom's.
3. input.outside_fill 'edge' and 'reflect' on the oblique phantom: inside the series the image is the same as with
   'clip_low' (for 'reflect', but for the outermost half voxel, which it mirrors and the others clamp); the corners
   beyond it continue the series (its edge repeated, or mirrored) instead of holding the window's low bound (-1 after
   normalising).
Prints the figures; exits non-zero when a check fails.
"""
import argparse
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from niftiio import read_nifti  # noqa: E402
from train import generate, load_case, load_case_upright, tilt_deg, upright_sampler  # noqa: E402

SPACING = [2.0, 2.0, 3.0]  # the model grid, x y z (mm)


def label_stats(t_lab, axes):
    """Per psoas label: volume (mL) and centroid (LPS mm) on an upright grid whose voxel centres are `axes`."""
    vox_ml = float(np.prod([float(a[1] - a[0]) for a in axes])) / 1000
    out = {}
    for v in (1, 2):
        idx = torch.nonzero(t_lab == v).double()  # [n, (k, j, i)]
        c = [float(axes[a][0]) + float(axes[a][1] - axes[a][0]) * float(idx[:, 2 - a].mean()) for a in range(3)]
        out[v] = (len(idx) * vox_ml, c)
    return out


def upright_of(d, outside_fill='clip_low'):
    img, aff = read_nifti(os.path.join(d, 'image.nii.gz'))
    lab, _ = read_nifti(os.path.join(d, 'labels.nii.gz'))
    _, _, axes = upright_sampler(img.shape, aff, SPACING)
    t_img, t_lab, _, _, _ = load_case_upright(img, lab, aff, SPACING, (), 0.0, 0.0, (), 'cpu', outside_fill)
    return t_img, t_lab, axes, tilt_deg(aff)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--seed', type=int, default=7001)
    ap.add_argument('--data', default='/tmp/psoas-check-upright')
    ap.add_argument('--tilt', type=float, nargs=4, metavar=('DEG', 'X', 'Y', 'Z'),
                    help='the oblique grid tilted DEG about (X, Y, Z) instead of the generator\'s 16° about (1, 0.5, 0.25)')
    args = ap.parse_args()
    ok = True
    straight = generate(args.seed, ['--spacing', '1.5', '1.5', '3'], os.path.join(args.data, 'straight'))
    tilt = ['--oblique-tilt'] + [f'{x:g}' for x in args.tilt] if args.tilt else ['--oblique']
    oblique = generate(args.seed, ['--spacing', '1.5', '1.5', '3'] + tilt, os.path.join(args.data, 'oblique'))

    # 1. straight: upright path == standard path
    a_img, a_lab, _, _, _ = load_case(straight, SPACING)
    b_img, b_lab, axes_s, tilt_s = upright_of(straight)
    same_shape = tuple(a_img.shape) == tuple(b_img.shape)
    diff = float((a_img - b_img).abs().max()) if same_shape else float('inf')
    agree = float((a_lab == b_lab).float().mean()) if same_shape else 0.0
    print(f'straight (tilt {tilt_s:.2f}°): grid {list(a_img.shape)} vs {list(b_img.shape)}, image max |diff| {diff:.2e}, '
          f'labels equal on {100 * agree:.4f} % of voxels')
    ok &= same_shape and diff < 1e-4 and agree > 0.999

    # 2. oblique upright vs straight: same anatomy
    o_img, o_lab, axes_o, tilt_o = upright_of(oblique)
    s, o = label_stats(b_lab, axes_s), label_stats(o_lab, axes_o)
    print(f'oblique (tilt {tilt_o:.2f}°) resampled upright, against the straight phantom of seed {args.seed}:')
    for v, name in ((1, 'psoas_left'), (2, 'psoas_right')):
        dv = o[v][0] / s[v][0] - 1
        dc = float(np.linalg.norm(np.subtract(o[v][1], s[v][1])))
        print(f'  {name}: volume {s[v][0]:.1f} → {o[v][0]:.1f} mL ({100 * dv:+.2f} %), centroid moved {dc:.2f} mm')
        ok &= abs(dv) < 0.03 and dc < 1.5

    # 3. outside_fill 'edge' / 'reflect': the same inside the series, the corners no longer at the low bound
    corner = o_img == -1.0  # the corners (and any voxel clipped to the window's low bound: air)
    for fill in ('edge', 'reflect'):
        e_img, _, _, _ = upright_of(oblique, fill)
        d = (e_img - o_img)[~corner].abs()
        # 'reflect' also mirrors the last half voxel inside the series' extent, which the other two clamp
        changed = float((d > 1e-6).float().mean())
        low_clip, low_fill = float(corner.float().mean()), float((e_img == -1.0).float().mean())
        print(f"outside_fill '{fill}': inside the series {100 * changed:.3f} % of voxels changed (max |diff| "
              f"{float(d.max()):.2e}); voxels at the low bound {100 * low_clip:.2f} % (clip_low) → {100 * low_fill:.2f} %")
        ok &= (changed == 0 if fill == 'edge' else changed < 0.02) and low_fill < low_clip - 0.01
    print('OK' if ok else 'FAILED')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
