#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Uncompressed x86-64 vmlinux ELF + shim.bin -> multiboot image entering Linux via PVH.

Usage: mkpvh.py VMLINUX_ELF SHIM_BIN OUT.mb

VMLINUX_ELF is what selftests/vm/kernel.sh cuts out of /boot/vmlinuz-KVER
(any compressor it supports: xz, zstd, ...).  The ELF's load segments are
laid flat at their physical addresses (16 MiB) behind the 4 KiB shim, the
shim's PVH entry slot is patched with the kernel's XEN_ELFNOTE_PHYS32_ENTRY
(ELF note 18, needs CONFIG_PVH=y), and trailing zero pages are dropped: the
multiboot header's bss_end_addr makes GRUB reserve and zero them instead.
"""
import os
import struct
import sys

MB_MAGIC = 0x1BADB002
BASE = 0x1000000            # LOAD_PHYSICAL_ADDR; the shim sits just below it


def die(msg):
    sys.stderr.write('mkpvh.py: %s\n' % msg)
    sys.exit(1)


def main(argv):
    if len(argv) != 4:
        sys.stderr.write(__doc__)
        return 2
    elf_path, shim_path, out = argv[1:4]
    elf = open(elf_path, 'rb').read()
    if elf[:4] != b'\x7fELF' or elf[4] != 2:
        die('%s is not a 64-bit ELF file' % elf_path)
    e_phoff, = struct.unpack_from('<Q', elf, 0x20)
    e_phentsize, e_phnum = struct.unpack_from('<HH', elf, 0x36)
    loads, entry = [], None
    for n in range(e_phnum):
        p_type, _, p_off, _, p_paddr, p_filesz, p_memsz, _ = \
            struct.unpack_from('<IIQQQQQQ', elf, e_phoff + n * e_phentsize)
        if p_type == 1:                                     # PT_LOAD
            loads.append((p_paddr, p_off, p_filesz, p_memsz))
        elif p_type == 4:                                   # PT_NOTE
            o = p_off
            while o + 12 <= p_off + p_filesz:
                namesz, descsz, typ = struct.unpack_from('<III', elf, o)
                name = elf[o + 12:o + 12 + namesz]
                desc_off = o + 12 + ((namesz + 3) & ~3)
                if name.startswith(b'Xen') and typ == 18:
                    entry, = struct.unpack_from('<I', elf, desc_off)
                o = desc_off + ((descsz + 3) & ~3)
    if not entry:
        die('kernel has no PVH entry note (needs CONFIG_PVH=y)')
    if not loads:
        die('kernel has no load segments')
    base = min(l[0] for l in loads)
    end = max(l[0] + l[3] for l in loads)
    if base != BASE:
        die('kernel loads at %#x, the shim expects %#x' % (base, BASE))
    if end >= 1 << 32:
        die('kernel ends above 4 GiB (%#x)' % end)
    img = bytearray(end - base)
    for paddr, off, filesz, _ in loads:
        img[paddr - base:paddr - base + filesz] = elf[off:off + filesz]

    shim = bytearray(open(shim_path, 'rb').read())
    if len(shim) != 4096 or struct.unpack_from('<I', shim, 0)[0] != MB_MAGIC:
        die('%s is not the 4 KiB multiboot shim' % shim_path)
    struct.pack_into('<I', shim, 0x20, entry)               # pvh_entry_ptr
    n = len(img)
    while n >= 4096 and not any(img[n - 4096:n]):
        n -= 4096
    struct.pack_into('<I', shim, 24, end)                   # bss_end_addr

    tmp = '%s.tmp.%d' % (out, os.getpid())
    with open(tmp, 'wb') as f:
        f.write(bytes(shim) + bytes(img[:n]))
    os.replace(tmp, out)
    sys.stderr.write('mkpvh.py: PVH entry %#x, image %#x-%#x (%.1f MiB, %.1f MiB '
                     'stored) -> %s\n' % (entry, base, end, len(img) / 2**20,
                                          n / 2**20, out))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
