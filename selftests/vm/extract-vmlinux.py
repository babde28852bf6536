#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Cut the uncompressed ELF kernel out of an x86 bzImage.

Usage: extract-vmlinux.py VMLINUZ OUT_ELF

QEMU boots an ELF vmlinux directly through its PVH entry point, which skips
the guest-side decompression (seconds under TCG emulation).  The bzImage
setup header says where the compressed payload starts; its first bytes say
which compressor made it.  xz, lzma, gzip and bzip2 are decoded with the
Python standard library; zstd needs the zstd(1) tool.  If the setup header
does not lead to a usable payload, the image is scanned for every known
stream signature and the first one that decodes to an ELF file wins.
"""

import bz2
import lzma
import os
import shutil
import struct
import subprocess
import sys
import zlib

ELF_MAGIC = b"\x7fELF"

# Signature -> compressor name.  Order matters only for the scan fallback.
SIGNATURES = (
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"\x1f\x8b\x08", "gzip"),
    (b"BZh", "bzip2"),
    (b"\x5d\x00\x00", "lzma"),
)


def decode_xz(blob):
    return lzma.LZMADecompressor(format=lzma.FORMAT_XZ).decompress(blob)


def decode_lzma(blob):
    return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE).decompress(blob)


def decode_gzip(blob):
    # wbits 16+MAX_WBITS: expect a gzip header; trailing bytes are ignored.
    return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(blob)


def decode_bzip2(blob):
    return bz2.BZ2Decompressor().decompress(blob)


def decode_zstd(blob):
    tool = shutil.which("zstd")
    if tool is None:
        raise RuntimeError("zstd payload but no zstd(1) tool installed")
    # The kernel appends the uncompressed size after the frame; zstd(1)
    # writes the decoded frame and then fails on those four bytes, so its
    # exit status is ignored and the ELF check in try_decode() judges.
    proc = subprocess.run([tool, "-dcq"], input=blob, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, check=False)
    return proc.stdout


DECODERS = {
    "xz": decode_xz,
    "lzma": decode_lzma,
    "gzip": decode_gzip,
    "bzip2": decode_bzip2,
    "zstd": decode_zstd,
}


def payload_from_header(image):
    """Return the compressed payload named by the setup header, or None."""
    if len(image) < 0x250 or image[0x202:0x206] != b"HdrS":
        return None
    version = struct.unpack_from("<H", image, 0x206)[0]
    if version < 0x0208:
        return None
    setup_sects = image[0x1F1] or 4
    pm_start = (setup_sects + 1) * 512
    offset, length = struct.unpack_from("<II", image, 0x248)
    start = pm_start + offset
    if length == 0 or start + length > len(image):
        return None
    return image[start:start + length]


def try_decode(blob):
    """Decode blob if it starts with a known signature and yields an ELF."""
    for magic, name in SIGNATURES:
        if blob.startswith(magic):
            try:
                out = DECODERS[name](blob)
            except (lzma.LZMAError, zlib.error, OSError, EOFError,
                    ValueError):
                return None, name
            if out.startswith(ELF_MAGIC):
                return out, name
            return None, name
    return None, None


def scan(image):
    """Try each signature position in file order; first ELF result wins."""
    hits = []
    for magic, _ in SIGNATURES:
        pos = image.find(magic)
        while pos >= 0:
            hits.append(pos)
            pos = image.find(magic, pos + 1)
    for pos in sorted(set(hits)):
        out, name = try_decode(image[pos:])
        if out is not None:
            return out, name, pos
    return None, None, None


def main(argv):
    if len(argv) != 3:
        sys.stderr.write("usage: extract-vmlinux.py VMLINUZ OUT_ELF\n")
        return 2
    src, dst = argv[1], argv[2]
    with open(src, "rb") as f:
        image = f.read()

    out, name, how = None, None, "setup header"
    try:
        payload = payload_from_header(image)
        if payload is not None:
            out, name = try_decode(payload)
        if out is None:
            out, name, pos = scan(image)
            how = "scan at offset %d" % pos if out is not None else None
    except RuntimeError as err:
        sys.stderr.write("extract-vmlinux: %s: %s\n" % (src, err))
        return 1
    if out is None:
        sys.stderr.write("extract-vmlinux: no decodable ELF payload in %s\n"
                         % src)
        return 1

    tmp = "%s.tmp.%d" % (dst, os.getpid())
    with open(tmp, "wb") as f:
        f.write(out)
    os.replace(tmp, dst)
    sys.stderr.write("extract-vmlinux: %s: %s payload (%s), %d bytes\n"
                     % (os.path.basename(src), name, how, len(out)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
