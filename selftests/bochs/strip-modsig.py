#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Remove the appended PKCS#7 module signature (saves the in-guest SHA256/RSA check).

Usage: strip-modsig.py FILE.ko...   (edits in place; unsigned files are left alone)
"""
import struct, sys
MAGIC = b'~Module signature appended~\n'
for f in sys.argv[1:]:
    d = open(f, 'rb').read()
    if not d.endswith(MAGIC):
        continue
    sig_len, = struct.unpack('>I', d[-len(MAGIC) - 4:-len(MAGIC)])
    open(f, 'wb').write(d[:-len(MAGIC) - 12 - sig_len])
