"""Small 3D U-Net for left/right psoas segmentation.

WebGPU constraints (see shared/notes/browser-runtime.md): no 3D ConvTranspose (it throws on the WebGPU provider),
so the decoder upsamples with trilinear Resize followed by a 3x3x3 Conv. fp32 only. Input NCDHW = [N, 1, D=k, H=j, W=i]
of the model grid (LPS-canonical: i -> Left, j -> Posterior, k -> Superior). Output: softmax over 3 classes
(0 background, 1 psoas_left, 2 psoas_right) with the same spatial size. Spatial sizes must be multiples of 2**depth.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.c1 = nn.Conv3d(cin, cout, 3, padding=1)
        self.n1 = nn.InstanceNorm3d(cout, affine=True)
        self.c2 = nn.Conv3d(cout, cout, 3, padding=1)
        self.n2 = nn.InstanceNorm3d(cout, affine=True)

    def forward(self, x):
        x = F.leaky_relu(self.n1(self.c1(x)), 0.01)
        return F.leaky_relu(self.n2(self.c2(x)), 0.01)


class UNet3D(nn.Module):
    def __init__(self, channels=(8, 16, 32, 64), n_classes=3, softmax=True):
        super().__init__()
        self.depth = len(channels) - 1
        self.enc = nn.ModuleList()
        cin = 1
        for c in channels:
            self.enc.append(Block(cin, c))
            cin = c
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for lvl in range(self.depth - 1, -1, -1):
            self.up.append(nn.Conv3d(channels[lvl + 1], channels[lvl], 3, padding=1))
            self.dec.append(Block(2 * channels[lvl], channels[lvl]))
        self.head = nn.Conv3d(channels[0], n_classes, 1)
        self.softmax = softmax

    def forward(self, x):
        skips = []
        for i, blk in enumerate(self.enc):
            x = blk(x)
            if i < self.depth:
                skips.append(x)
                x = F.max_pool3d(x, 2)
        for up, dec in zip(self.up, self.dec):
            skip = skips.pop()
            x = F.interpolate(x, scale_factor=2.0, mode='trilinear', align_corners=False)
            x = F.leaky_relu(up(x), 0.01)
            x = dec(torch.cat([x, skip], dim=1))
        logits = self.head(x)
        return torch.softmax(logits, dim=1) if self.softmax else logits
