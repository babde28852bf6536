#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""
gen.py: random small guest programs for the KVM differential lane.

Usage: gen.py --seed S --count N --out DIR [--no-fpu-live]

Program i has its own seed S + i and is made from that seed alone, so
"--seed S+i --count 1" makes exactly that program again. Its mode is
seed % 3 (0 real, 1 prot32, 2 long64). Written to DIR:
  progs.S     every program, each between labels p<i>_start / p<i>_end
  progs.txt   the manifest kvm_diff reads (format below), offsets filled in
              by --finish after assembly (see lane.sh)

Manifest, one record per line:
  P idx seed mode code_off code_len entry_gpa cr3 rflags r0 .. r15
  R gpa size kind backing      kind rw|ro, backing 4k|2m (THP)
  T pt_gpa split_mask np_gpa   long64 only: identity page tables at pt_gpa
                               (PML4, PDPT, PD, then one PT per set bit of
                               split_mask: that 2M slot of [0, 64M) uses 4K
                               pages); np_gpa: a page left not present, or 0
  S off len size store reg     a memory access that may reach a hole or a
                               read-only region (the only ones that may):
                               offset in the program, instruction length,
                               access size, 1 for a store, GPR number
  E                            end of program

--fpu-live (default on) lets SSE/x87 values live across port-I/O exits and
reads the registers' initial state (INIT on KVM), and reads MXCSR and the
x87 status word: what proves a launcher keeps the guest's FPU image. With
--no-fpu-live every SSE/x87 block starts from values it loads itself and
ends with the x87 stack empty, with no exit in between.
"""
import argparse
import os
import random
import subprocess
import sys

REAL, PROT32, LONG64 = 0, 1, 2
MODE_NAMES = ("real", "prot32", "long64")
PAGE = 0x1000
MB2 = 0x200000
LIMIT = 64 << 20          # prot32/long64 gpas below this

GPR64 = ["rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rsp", "rbp",
         "r8", "r9", "r10", "r11", "r12", "r13", "r14", "r15"]
GPR32 = ["eax", "ebx", "ecx", "edx", "esi", "edi", "esp", "ebp"] + \
        ["r%dd" % i for i in range(8, 16)]
GPR16 = ["ax", "bx", "cx", "dx", "si", "di", "sp", "bp"] + \
        ["r%dw" % i for i in range(8, 16)]
GPR8 = ["al", "bl", "cl", "dl"] + [None] * 4 + ["r%db" % i for i in range(8, 16)]
SUFFIX = {1: "b", 2: "w", 4: "l", 8: "q"}
PORTS = [0x80, 0xe9, 0x1f0, 0x2f8, 0x378, 0x3f8, 0x510, 0x60, 0x70, 0xcf8]


def reg(n, size):
    return "%" + {8: GPR64, 4: GPR32, 2: GPR16, 1: GPR8}[size][n]


class Prog:
    def __init__(self, idx, seed, fpu_live):
        self.idx = idx
        self.seed = seed
        self.rnd = random.Random(seed)
        self.mode = seed % 3
        self.fpu_live = fpu_live
        self.lines = []
        self.sites = []
        self.nlabel = 0
        self.regions = []       # [gpa, size, kind, backing, role]
        self.pt = None
        self.exclude = (0, 0)
        self.ended = False      # a fault was emitted: the rest never runs

    # ---- the memory map ------------------------------------------------
    def free(self, gpa, size):
        for g, s, *_ in self.regions:
            if gpa < g + s and g < gpa + size:
                return False
        return True

    def place(self, size, align, lo, hi, kind, backing, role, gap=True):
        r = self.rnd
        for _ in range(200):
            gpa = r.randrange(lo, hi - size + 1, align) if hi - size >= lo else lo
            pad = PAGE if gap and r.random() < 0.7 else 0
            if gpa - pad >= 0 and self.free(gpa - pad, size + 2 * pad) and \
               gpa + size <= hi:
                self.regions.append([gpa, size, kind, backing, role])
                return gpa
        return None

    def make_map(self):
        r = self.rnd
        if self.mode == REAL:
            if r.random() < 0.2:
                self.regions.append([0, MB2, "rw", "2m", "data"])
                self.code = 0x1000 * r.randrange(1, 12)
                self.stack_top = self.code + 0x2000
                self.exclude = (self.code, self.stack_top)
                return
            pages = list(range(1, 16))
            r.shuffle(pages)
            self.code = pages[0] * PAGE
            self.regions.append([self.code, PAGE, r.choice(["rw", "ro"]),
                                 "4k", "code"])
            stack = pages[1] * PAGE
            self.regions.append([stack, PAGE, "rw", "4k", "stack"])
            self.stack_top = stack + PAGE
            for p in pages[2:]:
                k = r.choice(["rw", "rw", "ro", "hole"])
                if k != "hole":
                    self.regions.append([p * PAGE, PAGE, k, "4k", "data"])
            return
        self.code = self.place(PAGE * r.choice([1, 2]), PAGE, PAGE, LIMIT,
                               r.choice(["rw", "ro"]), "4k", "code")
        ssize = PAGE * r.choice([1, 2, 4])
        stack = self.place(ssize, PAGE, PAGE, LIMIT, "rw", "4k", "stack")
        self.stack_top = stack + ssize
        if r.random() < 0.6:
            self.place(MB2, MB2, 0, LIMIT, r.choice(["rw", "rw", "ro"]), "2m",
                       "data", gap=False)
        for _ in range(r.randrange(3, 9)):
            self.place(PAGE * r.choice([1, 1, 2, 4, 8]), PAGE, PAGE, LIMIT,
                       r.choice(["rw", "rw", "ro"]), "4k", "data")
        if self.mode == LONG64:
            slots = sorted({g // MB2 for g, s, *_ in self.regions} |
                           {(g + s - 1) // MB2 for g, s, *_ in self.regions})
            split = [sl for sl in slots if r.random() < 0.6]
            mask = sum(1 << sl for sl in split)
            npt = 3 + len(split)
            ptg = self.place(npt * PAGE, PAGE, PAGE, LIMIT, "rw", "4k", "pt")
            np_gpa = 0
            if split and r.random() < 0.15:
                sl = r.choice(split)
                cand = [sl * MB2 + i * PAGE for i in range(512)]
                cand = [c for c in cand if self.free(c, PAGE)]
                if cand:
                    np_gpa = r.choice(cand)
            self.pt = (ptg, mask, np_gpa)

    def targets(self, kind, size):
        """A random naturally aligned gpa of @size in a region of @kind
        (rw, ro, hole), or None."""
        r = self.rnd
        if kind == "hole":
            hi = 0x10000 if self.mode == REAL else LIMIT
            for _ in range(100):
                g = r.randrange(0, hi, size)
                if self.pt and self.pt[2] and self.pt[2] <= g < self.pt[2] + PAGE:
                    continue
                if self.free(g & ~(PAGE - 1), PAGE):
                    return g
            return None
        cand = [x for x in self.regions if x[2] == kind and x[4] == "data"]
        if not cand:
            return None
        for _ in range(100):
            g, s, *_ = r.choice(cand)
            if self.mode == REAL:
                s = min(s, 0x10000 - g)
            if s < size:
                continue
            a = g + r.randrange(0, s, size)
            if not self.excluded(a, size):
                return a
        return None

    def excluded(self, a, size):
        """Real mode over one 2M region: code and stack share it with data."""
        lo, hi = self.exclude
        return a < hi and lo < a + size

    def rd(self, size):
        return self.targets(self.rnd.choice(["rw", "rw", "ro"]), size) or \
            self.targets("rw", size)

    # ---- code --------------------------------------------------------------
    def emit(self, s):
        self.lines.append("\t" + s)

    def label(self):
        self.nlabel += 1
        return "p%d_l%d" % (self.idx, self.nlabel)

    def gregs(self):
        """GPR numbers the mix may write (never rsp)."""
        n = 16 if self.mode == LONG64 else 8
        return [i for i in range(n) if i != 6]

    def wsize(self):
        r = self.rnd
        if self.mode == LONG64:
            return r.choice([1, 2, 4, 8, 8])
        if self.mode == REAL:
            return r.choice([1, 2, 2, 4])
        return r.choice([1, 2, 4, 4])

    def pick(self, size, avoid=()):
        r = self.rnd
        c = [i for i in self.gregs() if i not in avoid]
        if size == 1:
            c = [i for i in c if GPR8[i]]
        return r.choice(c)

    def addr(self, g):
        return "0x%x" % g

    def alu(self, avoid=()):
        r = self.rnd
        sz = self.wsize()
        sf = SUFFIX[sz]
        d = self.pick(sz, avoid)
        s = self.pick(sz)
        k = r.randrange(12)
        imm = r.getrandbits(min(sz * 8, 32))
        if sz == 8 and imm >= 1 << 31:
            imm -= 1 << 32
        if sz == 2 and self.mode != REAL and False:
            pass
        if k == 0:
            op = r.choice(["add", "sub", "and", "or", "xor", "adc", "sbb", "cmp"])
            self.emit("%s%s $%d, %s" % (op, sf, imm if sz != 8 else imm, reg(d, sz)))
        elif k == 1:
            op = r.choice(["add", "sub", "and", "or", "xor", "adc", "sbb", "cmp",
                           "test"])
            self.emit("%s%s %s, %s" % (op, sf, reg(s, sz), reg(d, sz)))
        elif k == 2:
            op = r.choice(["inc", "dec", "neg", "not"])
            self.emit("%s%s %s" % (op, sf, reg(d, sz)))
        elif k == 3:
            op = r.choice(["shl", "shr", "sar", "rol", "ror", "rcl", "rcr"])
            self.emit("%s%s $%d, %s" % (op, sf, r.randrange(1, sz * 8), reg(d, sz)))
        elif k == 4 and sz > 1:
            self.emit("imul%s %s, %s" % (sf, reg(s, sz), reg(d, sz)))
        elif k == 5 and sz > 1:
            self.emit("cmov%s %s, %s" % (r.choice(["z", "nz", "c", "nc", "s", "o",
                                                   "l", "ge", "be", "a"]),
                                         reg(s, sz), reg(d, sz)))
        elif k == 6 and GPR8[d]:
            self.emit("set%s %s" % (r.choice(["z", "nz", "c", "nc", "s", "p",
                                              "l", "g"]), reg(d, 1)))
        elif k == 7:
            g = self.rd(sz)
            if g is not None:
                op = r.choice(["add", "sub", "xor", "or", "and", "cmp", "mov"])
                self.emit("%s%s %s, %s" % (op, sf, self.addr(g), reg(d, sz)))
        elif k == 8:
            g = self.targets("rw", sz)
            if g is not None:
                op = r.choice(["add", "sub", "xor", "or", "and", "mov"])
                self.emit("%s%s %s, %s" % (op, sf, reg(s, sz), self.addr(g)))
        elif k == 9 and sz >= 4:
            self.emit("bswap %s" % reg(d, sz))
        elif k == 10:
            s = self.pick(sz, avoid)
            self.emit("xchg%s %s, %s" % (sf, reg(s, sz), reg(d, sz)))
        elif k == 11 and sz > 1:
            bits = sz * 8
            self.emit("%s%s $%d, %s" % (r.choice(["bt", "bts", "btr", "btc"]), sf,
                                       r.randrange(bits), reg(d, sz)))
        else:
            self.emit("lea%s %d(%s), %s" % (SUFFIX[self.asz()], r.randrange(-99, 99),
                                          reg(s, self.asz()) if s < 8 or
                                          self.mode == LONG64 else "%ebx",
                                          reg(d, self.asz()))
                      if self.mode != REAL else "nop")

    def asz(self):
        return {REAL: 2, PROT32: 4, LONG64: 8}[self.mode]

    def loadstore(self):
        """A plain load or store of 1/2/4/8 bytes on mapped memory."""
        r = self.rnd
        sz = self.wsize()
        d = self.pick(sz)
        if r.random() < 0.5:
            g = self.rd(sz)
            if g is not None:
                if r.random() < 0.3 and self.mode != REAL:
                    # through a base register
                    b = self.pick(self.asz(), avoid=(d,))
                    disp = min(r.randrange(0, 64) & ~(sz - 1), g)
                    self.emit("mov $0x%x, %s" % (g - disp, reg(b, self.asz())))
                    self.emit("mov%s %d(%s), %s" % (SUFFIX[sz], disp,
                                                   reg(b, self.asz()), reg(d, sz)))
                else:
                    self.emit("mov%s %s, %s" % (SUFFIX[sz], self.addr(g), reg(d, sz)))
        else:
            g = self.targets("rw", sz)
            if g is not None:
                self.emit("mov%s %s, %s" % (SUFFIX[sz], reg(d, sz), self.addr(g)))
        if self.mode != LONG64 and r.random() < 0.3:
            # 8 bytes at a time without 64-bit GPRs: x87 integer load/store
            g = self.rd(8)
            h = self.targets("rw", 8)
            if g is not None and h is not None:
                self.emit("fildq %s" % self.addr(g))
                self.emit("fistpq %s" % self.addr(h))

    def fault(self):
        """The program's one access that may leave mapped memory."""
        r = self.rnd
        k = r.randrange(100)
        if k < 6:
            self.emit("ud2")
            self.ended = True
            return
        if k < 20 and self.pt and self.pt[2]:
            self.emit("movl %%eax, 0x%x" % (self.pt[2] + r.randrange(0, PAGE, 4)))
            self.ended = True
            return
        sz = self.wsize()
        kind = r.choice(["hole", "hole", "ro"])
        store = kind == "ro" or r.random() < 0.5
        g = self.targets(kind, sz)
        if g is None:
            return
        n = self.pick(sz)
        a, b = self.label(), self.label()
        self.lines.append(a + ":")
        if store:
            self.emit("mov%s %s, %s" % (SUFFIX[sz], reg(n, sz), self.addr(g)))
        else:
            self.emit("mov%s %s, %s" % (SUFFIX[sz], self.addr(g), reg(n, sz)))
        self.lines.append(b + ":")
        self.sites.append((a, b, sz, int(store), n))
        self.ended = True

    def stack(self):
        r = self.rnd
        k = r.randrange(4)
        w = self.asz()
        if k == 0:
            a, b = self.pick(w), self.pick(w)
            self.emit("push %s" % reg(a, w))
            self.alu()
            self.emit("pop %s" % reg(b, w))
        elif k == 1:
            f, e = self.label(), self.label()
            self.emit("call %s" % f)
            self.emit("jmp %s" % e)
            self.lines.append(f + ":")
            for _ in range(r.randrange(1, 4)):
                self.alu()
            self.emit("ret")
            self.lines.append(e + ":")
        elif k == 2:
            g = self.rd(w)
            h = self.targets("rw", w)
            if g is not None and h is not None:
                self.emit("push%s %s" % (SUFFIX[w], self.addr(g)))
                self.emit("pop%s %s" % (SUFFIX[w], self.addr(h)))
        else:
            self.emit("pushf")
            self.emit("pop %s" % reg(self.pick(w), w))

    def loop(self):
        r = self.rnd
        cnt = r.randrange(1, 40)
        top = self.label()
        c = reg(2, 2 if self.mode == REAL else 4)
        self.emit("mov $%d, %s" % (cnt, c))
        self.lines.append(top + ":")
        for _ in range(r.randrange(1, 4)):
            self.alu(avoid=(2,))
        if r.random() < 0.5:
            self.emit("dec %s" % c)
            self.emit("jnz %s" % top)
        else:
            self.emit("loop %s" % top)

    def span(self, kinds, n):
        """gpa of @n bytes inside one data region of @kinds, or None."""
        r = self.rnd
        c = [x for x in self.regions if x[2] in kinds and x[4] == "data"]
        for _ in range(20):
            if not c:
                return None
            g, s, *_ = r.choice(c)
            if self.mode == REAL:
                s = min(s, 0x10000 - g)
            if s < n:
                continue
            a = g + r.randrange(0, s - n + 1, 8)
            if not self.excluded(a, n):
                return a
        return None

    def string(self):
        r = self.rnd
        w = self.asz()
        sz = r.choice([1, 2, 4] + ([8] if self.mode == LONG64 else []))
        n = r.randrange(1, 64)
        d = self.span(("rw",), n * sz)
        if d is None:
            return
        self.emit("mov $0x%x, %s" % (d, reg(5, w)))
        self.emit("mov $%d, %s" % (n, reg(2, w)))
        s = self.span(("rw", "ro"), n * sz)
        if s is None or r.random() < 0.5:
            self.emit("rep stos%s" % SUFFIX[sz])
        else:
            self.emit("mov $0x%x, %s" % (s, reg(4, w)))
            self.emit("rep movs%s" % SUFFIX[sz])

    def io(self):
        r = self.rnd
        sz = r.choice([1, 2, 4])
        port = r.choice(PORTS)
        a = reg(0, sz)
        if r.random() < 0.5:
            if r.random() < 0.5 and port < 0x100:
                self.emit("out %s, $0x%x" % (a, port))
            else:
                self.emit("mov $0x%x, %%dx" % port)
                self.emit("out %s, %%dx" % a)
        else:
            if r.random() < 0.5 and port < 0x100:
                self.emit("in $0x%x, %s" % (port, a))
            else:
                self.emit("mov $0x%x, %%dx" % port)
                self.emit("in %%dx, %s" % a)

    def sse(self, live):
        """SSE work whose results go to memory (and to a GPR)."""
        r = self.rnd
        regs = list(range(8))
        used = r.sample(regs, 3)
        if not live:
            for x in used:
                g = self.rd(16)
                if g is None:
                    return
                self.emit("movdqu %s, %%xmm%d" % (self.addr(g), x))
        for _ in range(r.randrange(1, 6)):
            a, b = r.choice(used), r.choice(used)
            op = r.choice(["paddd", "psubq", "pxor", "pmullw", "paddusb", "addps",
                           "mulpd", "subps", "unpcklps", "pcmpeqb", "pmaxsw",
                           "sqrtps", "cvtdq2ps", "minps", "andnps"])
            self.emit("%s %%xmm%d, %%xmm%d" % (op, a, b))
            if r.random() < 0.2:
                self.emit("pshufd $0x%x, %%xmm%d, %%xmm%d" % (r.getrandbits(8), a, b))
            if live and r.random() < 0.3:
                self.io()
            if live and r.random() < 0.2:
                g = self.rd(8)
                if g is not None:
                    self.emit("movq %s, %%xmm%d" % (self.addr(g), a))
        h = self.targets("rw", 16)
        if h is not None:
            self.emit("movdqu %%xmm%d, %s" % (r.choice(used), self.addr(h)))
        h = self.targets("rw", 8)
        if h is not None:
            self.emit("movq %%xmm%d, %s" % (r.choice(used), self.addr(h)))
        self.emit("movd %%xmm%d, %s" % (r.choice(used), reg(self.pick(4), 4)))
        if live and r.random() < 0.3:
            h = self.targets("rw", 4)
            if h is not None:
                self.emit("stmxcsr %s" % self.addr(h))

    def x87(self, live):
        r = self.rnd
        depth = 0
        for _ in range(r.randrange(2, 7)):
            k = r.randrange(6)
            if depth < 2 or (k < 3 and depth < 6):
                c = r.randrange(4)
                if c == 0:
                    self.emit(r.choice(["fld1", "fldpi", "fldz", "fldl2e", "fldlg2"]))
                else:
                    g = self.rd(4 if c == 1 else 8)
                    if g is None:
                        continue
                    self.emit(("fildl %s" if c == 1 else
                               "fildq %s" if c == 2 else "fldl %s") % self.addr(g))
                depth += 1
            elif k == 3:
                self.emit(r.choice(["faddp", "fmulp", "fsubrp", "fdivrp"]))
                depth -= 1
            elif k == 4:
                self.emit(r.choice(["fchs", "fabs", "fsqrt", "frndint", "fxch",
                                    "fscale", "fprem"]))
            else:
                self.emit("fadd %st(1), %st")
            if live and r.random() < 0.25:
                self.io()
        while depth > 0:
            h = self.targets("rw", 8)
            if h is None:
                self.emit("fstp %st(0)")
            else:
                self.emit(r.choice(["fstpl %s", "fistpq %s", "fistpl %s",
                                    "fstps %s"]) % self.addr(h))
            depth -= 1
        if live and r.random() < 0.3:
            self.emit("fnstsw %ax")

    def body(self):
        r = self.rnd
        n = r.randrange(8, 40)
        fault_at = r.randrange(n) if r.random() < 0.4 else -1
        mix = [(self.alu, 30), (self.loadstore, 25), (self.stack, 10),
               (self.loop, 6), (self.string, 6), (self.io, 10),
               (lambda: self.sse(self.fpu_live), 6),
               (lambda: self.x87(self.fpu_live), 5)]
        fns = [f for f, w in mix for _ in range(w)]
        if self.fpu_live and r.random() < 0.15:
            # the initial FPU state is the architectural INIT state on KVM
            x = r.randrange(8)
            h = self.targets("rw", 16)
            if h is not None:
                self.emit("movdqu %%xmm%d, %s" % (x, self.addr(h)))
        for i in range(n):
            if i == fault_at:
                self.fault()
                if self.ended:
                    break
            r.choice(fns)()
        self.emit("hlt")

    def generate(self):
        self.make_map()
        self.regions.sort()
        code = {REAL: ".code16", PROT32: ".code32", LONG64: ".code64"}[self.mode]
        self.lines += [".balign 16", "p%d_start:" % self.idx, code]
        self.body()
        self.lines += ["p%d_end:" % self.idx, ".code64"]
        r = self.rnd
        self.regs = [r.getrandbits(64) for _ in range(16)]
        if self.mode != LONG64:
            self.regs[8:] = [0] * 8 if r.random() < 0.5 else self.regs[8:]
        self.regs[6] = self.stack_top - 16 - 8 * r.randrange(0, 4)
        self.rflags = 2 | (r.getrandbits(12) & 0x8d5)
        # the entry point: somewhere in the code region, 16-aligned
        crs = [x for x in self.regions if x[4] == "code"]
        if crs:
            self.entry = crs[0][0] + 16 * r.randrange(0, 32)
        else:
            self.entry = self.code
        return self


def write(progs, outdir):
    with open(os.path.join(outdir, "progs.S"), "w") as f:
        f.write("# generated by selftests/kvm-diff/gen.py\n.text\n")
        for p in progs:
            f.write("\n".join(p.lines) + "\n")


def finish(progs, outdir, syms):
    with open(os.path.join(outdir, "progs.txt"), "w") as f:
        for p in progs:
            start = syms["p%d_start" % p.idx]
            end = syms["p%d_end" % p.idx]
            cr3 = p.pt[0] if p.pt else 0
            f.write("P %d %d %d %d %d %d %d %d %s\n" % (
                p.idx, p.seed, p.mode, start, end - start, p.entry, cr3,
                p.rflags, " ".join("%d" % v for v in p.regs)))
            for g, s, k, b, role in p.regions:
                f.write("R %d %d %s %s %s\n" % (g, s, k, b, role))
            if p.pt:
                f.write("T %d %d %d\n" % p.pt)
            for a, b, sz, st, n in p.sites:
                f.write("S %d %d %d %d %d\n" % (syms[a] - start, syms[b] - syms[a],
                                               sz, st, n))
            f.write("E\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, required=True)
    ap.add_argument("--count", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--no-fpu-live", action="store_true")
    a = ap.parse_args()
    progs = [Prog(i, a.seed + i, not a.no_fpu_live).generate()
             for i in range(a.count)]
    write(progs, a.out)
    src = os.path.join(a.out, "progs.S")
    obj = os.path.join(a.out, "progs.o")
    subprocess.run(["as", "--64", "-o", obj, src], check=True)
    subprocess.run(["objcopy", "-O", "binary", "-j", ".text", obj,
                    os.path.join(a.out, "progs.bin")], check=True)
    out = subprocess.run(["nm", obj], check=True, capture_output=True,
                         text=True).stdout
    syms = {}
    for line in out.splitlines():
        v, _, name = line.split()
        syms[name] = int(v, 16)
    finish(progs, a.out, syms)
    bad = [p.idx for p in progs
           if syms["p%d_end" % p.idx] - syms["p%d_start" % p.idx] > 0xe00]
    if bad:
        sys.exit("gen.py: programs too long: %s" % bad[:5])
    modes = [0, 0, 0]
    for p in progs:
        modes[p.mode] += 1
    print("gen.py: %d programs (real %d, prot32 %d, long64 %d), seed %d, fpu-live %s"
          % (a.count, modes[0], modes[1], modes[2], a.seed,
             "on" if not a.no_fpu_live else "off"))


if __name__ == "__main__":
    main()
