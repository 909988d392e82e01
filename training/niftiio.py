"""Minimal NIfTI-1/2 reader for training (numpy only; Debian has no nibabel requirement here).

Returns the voxel array indexed [i, j, k] (i fastest on disk) and the 4x4 RAS affine (sform, else qform, else pixdim).
"""
import gzip
import struct

import numpy as np

_DTYPES = {2: np.uint8, 4: np.int16, 8: np.int32, 16: np.float32, 64: np.float64, 256: np.int8, 512: np.uint16}


def read_nifti(path):
    raw = open(path, 'rb').read()
    if raw[:2] == b'\x1f\x8b':
        raw = gzip.decompress(raw)
    sizeof_hdr = struct.unpack('<i', raw[:4])[0]
    endian = '<'
    if sizeof_hdr not in (348, 540):
        endian = '>'
        sizeof_hdr = struct.unpack('>i', raw[:4])[0]
    if sizeof_hdr == 348:
        dim = struct.unpack(endian + '8h', raw[40:56])
        datatype = struct.unpack(endian + 'h', raw[70:72])[0]
        pixdim = struct.unpack(endian + '8f', raw[76:108])
        vox_offset = int(struct.unpack(endian + 'f', raw[108:112])[0])
        scl_slope, scl_inter = struct.unpack(endian + '2f', raw[112:120])
        qform_code, sform_code = struct.unpack(endian + '2h', raw[252:256])
        srow = np.array(struct.unpack(endian + '12f', raw[280:328]), dtype=np.float64).reshape(3, 4)
    elif sizeof_hdr == 540:
        datatype = struct.unpack(endian + 'h', raw[12:14])[0]
        dim = struct.unpack(endian + '8q', raw[16:80])
        pixdim = struct.unpack(endian + '8d', raw[104:168])
        vox_offset = struct.unpack(endian + 'q', raw[168:176])[0]
        scl_slope, scl_inter = struct.unpack(endian + '2d', raw[176:192])
        qform_code, sform_code = struct.unpack(endian + '2i', raw[344:352])
        srow = np.array(struct.unpack(endian + '12d', raw[400:496]), dtype=np.float64).reshape(3, 4)
    else:
        raise ValueError(f'{path}: not a NIfTI file (sizeof_hdr={sizeof_hdr})')
    nx, ny, nz = dim[1], dim[2], max(1, dim[3])
    dt = np.dtype(_DTYPES[datatype]).newbyteorder(endian)
    data = np.frombuffer(raw, dtype=dt, count=nx * ny * nz, offset=vox_offset).reshape((nz, ny, nx)).transpose(2, 1, 0)
    data = data.astype(np.float32)
    if scl_slope not in (0.0, 1.0) and np.isfinite(scl_slope):
        data = data * scl_slope + scl_inter
    elif scl_slope == 1.0 and scl_inter:
        data = data + scl_inter
    affine = np.eye(4)
    if sform_code > 0:
        affine[:3, :] = srow
    else:
        affine[:3, :3] = np.diag(pixdim[1:4])
    if qform_code > 0 and sform_code <= 0:
        raise ValueError(f'{path}: qform-only NIfTI not supported by the training reader')
    return data, affine


def to_lps_canonical(data, affine):
    """Permute/flip axes (no interpolation) so that i -> patient Left, j -> Posterior, k -> Superior (LPS).

    This mirrors the TypeScript pipeline's reorient step (model orientation 'LPS'). Returns (array, spacing_mm).
    """
    lps = np.diag([-1.0, -1.0, 1.0]) @ affine[:3, :3]  # columns: LPS direction * spacing of each axis
    spacing = np.linalg.norm(lps, axis=0)
    dirs = lps / spacing
    perm = [int(np.argmax(np.abs(dirs[a, :]))) for a in range(3)]  # which source axis points along L, P, S
    if len(set(perm)) != 3:
        raise ValueError('degenerate orientation')
    out = np.transpose(data, perm)
    sp = spacing[perm]
    for a in range(3):
        if dirs[a, perm[a]] < 0:
            out = np.flip(out, axis=a)
    return np.ascontiguousarray(out), sp
