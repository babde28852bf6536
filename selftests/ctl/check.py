#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge the eptctl cases of a VM-lane run (selftests/ctl/cases.sh).

Usage: check.py [--update] [--cases FILE] RESULT_LOG

Compare, print TAP, exit 1 on a failure; --update writes expected/ from the
log instead (review what it wrote!). FILE is the guest script whose cases
the log holds: cases.sh (default, QEMU lane) or cases-vmx.sh (Bochs lane).

Every case of FILE must be in the log, and for each:
  - the exit status, stdout and stderr equal selftests/ctl/expected/NAME
    after masking what a run cannot repeat: host-physical addresses (bits
    51:12 of the entry and EPTP values, hpa/root/DOT addresses) and user
    addresses (ASLR);
  - every stdout line of a -j/-p case is JSON (one document per command,
    pretty ones spanning lines) valid against tools/ctl/eptctl.schema.json;
  - in those documents, before masking: each table entry's EPT address is
    its KPT address + 4 KiB, each leaf's two addresses are equal and
    aligned to its size, and the EPT root is the KPT root + 4 KiB.
First the schema itself must reject three broken documents, so that a
schema that accepts everything cannot pass.
"""
import json
import os
import re
import sys

import jsonschema

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
EXPECTED = os.path.join(HERE, 'expected')
SCHEMA = os.path.join(TOP, 'tools', 'ctl', 'eptctl.schema.json')
ADDR = 0x000ffffffffff000          # EPM_PTE_ADDR (include/uapi/linux/ept_pmap_pte.h)

n = 0
failed = 0


def result(ok, what):
    global n, failed
    n += 1
    if not ok:
        failed += 1
    print('%s %d %s' % ('ok' if ok else 'not ok', n, what))


def read_cases(path):
    """The cases in the log: {name: {'out': [...], 'err': [...], 'rc': N}}."""
    cases, order, cur = {}, [], None
    with open(path, encoding='utf-8', errors='replace') as f:
        for line in f:
            line = line.rstrip('\r\n')
            m = re.match(r'^# eptctl-case (\S+)$', line)
            if m:
                cur = {'out': [], 'err': [], 'rc': None}
                cases[m.group(1)] = cur
                order.append(m.group(1))
                continue
            if cur is None:
                continue
            m = re.match(r'^# eptctl-(out|err) \|(.*)$', line)
            if m:
                cur[m.group(1)].append(m.group(2))
                continue
            m = re.match(r'^# eptctl-rc (\d+)$', line)
            if m:
                cur['rc'] = int(m.group(1))
                cur = None
    return cases, order


def case_names(script):
    """The cases @script runs, in order: every 't NAME' line."""
    names = []
    with open(os.path.join(HERE, script)) as f:
        for line in f:
            m = re.match(r'^t (\S+)', line)
            if m:
                names.append(m.group(1))
    return names


def mask_entry(m):
    return '%s0x%016x' % (m.group(1), int(m.group(2), 16) & ~ADDR)


def mask_text(line):
    # entries and the EPTP as 16 hex digits: their flag bits stay
    line = re.sub(r'\b((?:kpt|ept|eptp|kpt_root) +)0x([0-9a-f]{16})\b', mask_entry, line)
    # addresses printed alone (the 16-digit entry values were masked above)
    line = re.sub(r'\b(hpa|root|kpt_root|kpt|ept) 0x(?![0-9a-f]{16}\b)[0-9a-f]+\b',
                  lambda m: m.group(1) + ' 0xADDR', line)
    line = re.sub(r'(\\nkpt|\\nept) 0x[0-9a-f]+', lambda m: m.group(1) + ' 0xADDR', line)
    # user addresses: ASLR moves them
    line = re.sub(r'(memory at|uaddr) 0x[0-9a-f]+', lambda m: m.group(1) + ' 0xUADDR', line)
    return line


MASK_KEYS = {'hpa', 'kpt_root', 'ept_root', 'uaddr'}


def mask_json(v):
    if isinstance(v, dict):
        out = {}
        for k, x in v.items():
            if k in ('kpte', 'epte', 'eptp') and isinstance(x, int):
                out[k] = x & ~ADDR
            elif (k in MASK_KEYS or k == 'addr') and isinstance(x, int):
                out[k] = 'ADDR' if x else 0
            else:
                out[k] = mask_json(x)
        return out
    if isinstance(v, list):
        return [mask_json(x) for x in v]
    return v


def documents(lines):
    """Split stdout into JSON documents (compact: one a line; pretty: '{' to '}')."""
    docs, buf = [], []
    for line in lines:
        buf.append(line)
        if line == '}' or (line.startswith('{') and line.endswith('}')):
            docs.append('\n'.join(buf))
            buf = []
    if buf:
        docs.append('\n'.join(buf))
    return docs


def check_addresses(doc, why):
    """The table-pair layout and leaf alignment, on raw addresses."""
    if doc.get('command') == 'eptp' and doc.get('visible') and doc['eptp']:
        if doc['ept_root'] != doc['kpt_root'] + 4096:
            why.append('eptp: EPT root is not KPT root + 4 KiB')
    entries = doc.get('entries', [])
    if doc.get('command') == 'query':
        entries = [w for w in doc.get('walk', []) if w.get('present')]
    for e in entries:
        k, x = e['kpt']['addr'], e['ept']['addr']
        leaf = e.get('leaf', e['level'] == doc.get('level'))
        if not k and not x:
            continue            # addresses hidden (no CAP_SYS_ADMIN)
        if leaf:
            size = 1 << (12 + 9 * (e['level'] - 1))
            if k != x or k % size:
                why.append('level %d leaf: kpt 0x%x ept 0x%x' % (e['level'], k, x))
        elif x != k + 4096:
            why.append('level %d table: ept 0x%x is not kpt 0x%x + 4 KiB' % (e['level'], x, k))


def judge(name, got, validator):
    why = []
    path = os.path.join(EXPECTED, name)
    out = list(got['out'])
    if name_is_json(name):
        masked = []
        for d in documents(out):
            try:
                doc = json.loads(d)
            except ValueError as e:
                why.append('not JSON (%s): %.80s' % (e, d))
                continue
            for err in validator.iter_errors(doc):
                why.append('schema: %s at %s' % (err.message[:120], '/'.join(map(str, err.path))))
            check_addresses(doc, why)
            masked.append(json.dumps(mask_json(doc), sort_keys=True))
        out = masked
    else:
        out = [mask_text(x) for x in out]
    text = 'rc %s\n' % got['rc'] + ''.join('out |%s\n' % x for x in out) + \
        ''.join('err |%s\n' % mask_text(x) for x in got['err'])
    if UPDATE:
        with open(path, 'w') as f:
            f.write(text)
    elif not os.path.exists(path):
        why.append('no expected/%s' % name)
    else:
        with open(path) as f:
            want = f.read()
        if want != text:
            w, g = want.splitlines(), text.splitlines()
            for i in range(max(len(w), len(g))):
                a = w[i] if i < len(w) else '<none>'
                b = g[i] if i < len(g) else '<none>'
                if a != b:
                    why.append('line %d: want %r got %r' % (i + 1, a[:200], b[:200]))
                    break
    result(not why, 'eptctl %s%s' % (name, ''.join('\n#   ' + x for x in why[:5])))


def name_is_json(name):
    return name.endswith('-json') or name.endswith('-pretty') or name == 'combined-flags'



def schema_rejects(validator):
    bad = [
        {'schema': 1, 'command': 'stats', 'table_pairs': '1'},
        {'schema': 1, 'command': 'unmap', 'gpa': 0, 'size': 4096, 'extra': 1},
        {'schema': 1, 'command': 'check'},
    ]
    ok = all(not validator.is_valid(d) for d in bad)
    result(ok, 'eptctl.schema.json rejects a string for a number, an unknown key, a missing field')


UPDATE = False


def main(argv):
    global UPDATE
    script = 'cases.sh'
    while len(argv) > 2 and argv[1].startswith('--'):
        if argv[1] == '--update':
            UPDATE = True
            argv = argv[1:]
        elif argv[1] == '--cases' and len(argv) > 3:
            script = os.path.basename(argv[2])
            argv = argv[2:]
        else:
            break
    if len(argv) != 2:
        print(__doc__.strip(), file=sys.stderr)
        return 2
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    os.makedirs(EXPECTED, exist_ok=True)
    schema_rejects(validator)
    cases, _ = read_cases(argv[1])
    for name in case_names(script):
        if name not in cases or cases[name]['rc'] is None:
            result(False, 'eptctl %s # no result in the log' % name)
            continue
        judge(name, cases[name], validator)
    print('1..%d' % n)
    if failed:
        print('# eptctl: %d of %d failed' % (failed, n))
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
