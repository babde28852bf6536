#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Hold the documentation to the code it describes (scripts/docs-check.sh).

Usage: scripts/docs_check.py EPTCTL

  man     Documentation/man/eptctl.8 against `EPTCTL --help` and
          `EPTCTL CMD --help`: every command is a .SS section and nothing
          else is; every option and value a command's help shows is in its
          section; every option a section lists as a .TP item is one the
          command's help shows; every global option of the overview is under
          OPTIONS; every exit status the overview gives is under EXIT STATUS.
  man4    Documentation/man/ept-pmap.4 against include/uapi/linux/ept_pmap.h:
          the EPM_* names and structs of the header are exactly those the
          page names; each EPM_IOC_* is a .SS section naming exactly the
          errnos that the header's paragraph on it names; ERRORS names
          exactly those of the header's conventions; every errno the module
          returns (-EXXX in src/*.c) is named somewhere in the header.
  readme  README.md's eptctl table names only commands and options eptctl
          has; its ioctl table names every EPM_IOC_* and nothing else.
  design  no comment or document points at a design text outside the tree,
          every Documentation/ path that a file names exists, and every
          epm_/EPM_ name and tree path Documentation/design.md names exists,
          and every src/ file is in one of its layers.

Prints one line per problem and "docs: NAME: ok" per check; exits 1 on any
problem.
"""
import errno
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ERRNOS = {n for n in dir(errno) if re.fullmatch(r"E[A-Z0-9]+", n)}
problems = []
# top directories of the kernel's Documentation/ that comments cite
KERNEL_DOCS = {"process", "fault-injection", "admin-guide", "dev-tools",
               "virt", "core-api", "mm", "trace", "driver-api", "x86",
               "userspace-api", "ABI", "filesystems", "kbuild", "locking"}


def problem(what):
    problems.append(what)
    print("docs: " + what)


def read(path):
    with open(os.path.join(TOP, path), encoding="utf-8") as f:
        return f.read()


def help_text(eptctl, *args):
    r = subprocess.run([eptctl, *args, "--help"], capture_output=True,
                       text=True, check=False)
    if r.returncode != 0:
        problem(f"'{' '.join(['eptctl', *args, '--help'])}' exits "
                f"{r.returncode}: {r.stderr.strip()}")
    return r.stdout


LONG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
SHORT = re.compile(r"(?<![\w-])-[a-zA-Z](?![\w-])")
# an option followed by a list of values: --format tree|json|dot
CHOICES = re.compile(r"(--[a-z][a-z0-9-]*)[ =]([a-z0-9_]+(?:\|[a-z0-9_]+)+)")


def options_in(text):
    return set(LONG.findall(text)) | set(SHORT.findall(text))


def choices_in(text):
    out = {}
    for opt, vals in CHOICES.findall(text):
        out.setdefault(opt, set()).update(vals.split("|"))
    return out


def parse_overview(text):
    """Commands, global options and exit statuses of `eptctl --help`."""
    cmds, rest, in_cmds = [], [], False
    for line in text.splitlines():
        if re.match(r"^Commands:\s*$", line):
            in_cmds = True
            continue
        m = re.match(r"^ {1,4}([a-z][a-z0-9-]*)(\s|$)", line)
        if in_cmds and m:
            cmds.append(m.group(1))
            continue
        in_cmds = in_cmds and line.strip() != "" and not line[0].isalpha()
        rest.append(line)
    rest = "\n".join(rest)
    m = re.search(r"Exit status:(.*?)(?:\n\s*\n|\Z)", text, re.S)
    statuses = set(re.findall(r"(?<![\w.])(\d+)(?=\s)", m.group(1))) if m else set()
    glob = options_in(rest) - {"--"}
    # "COMMAND --help" is per command; -b's stdin "-" is no option
    return cmds, glob, statuses


def detroff(s):
    s = re.sub(r"\\f[BIRP]|\\f\(..|\\&|\\c", "", s)
    s = s.replace("\\-", "-").replace("\\(aq", "'").replace("\\(dq", '"')
    s = s.replace("\\e", "\\")
    # the arguments of .B/.BR/.IR... lose their quotes
    return re.sub(r'^\.(?:[BIR]{1,2})\s+', "", s, flags=re.M).replace('"', " ")


def man_sections(src, level):
    """{title: body} of the .SH (level 'SH') or .SS sections of a page."""
    out, title, body = {}, None, []
    for line in src.splitlines():
        m = re.match(r"^\.(SH|SS)\s+(.*)$", line)
        if m and (m.group(1) == level or (level == "SS" and m.group(1) == "SH")):
            if title is not None:
                out[title] = "\n".join(body)
            title = m.group(2).strip('"') if m.group(1) == level else None
            body = []
        elif title is not None:
            body.append(line)
    if title is not None:
        out[title] = "\n".join(body)
    return out


def tp_options(body):
    """Options named by the .TP items of a section (first word of the tag)."""
    lines, out = body.splitlines(), set()
    for i, line in enumerate(lines[:-1]):
        if line.strip() == ".TP":
            tag = detroff(lines[i + 1]).split()
            for word in tag:
                word = word.rstrip(",")
                if LONG.fullmatch(word) or SHORT.fullmatch(word):
                    out.add(word)
    return out


def check_man8(eptctl):
    src = read("Documentation/man/eptctl.8")
    cmds, glob, statuses = parse_overview(help_text(eptctl))
    if not cmds:
        problem("eptctl.8: no commands found in 'eptctl --help'")
    if not statuses:
        problem("eptctl.8: no 'Exit status:' found in 'eptctl --help'")
    sh = man_sections(src, "SH")
    ss = {}
    for title, body in man_sections(src, "SS").items():
        ss[title] = body
    page_cmds = set(re.findall(r"^\.SS\s+(\S+)", sh.get("COMMANDS", ""), re.M))
    if "COMMANDS" not in sh:
        problem("eptctl.8: no COMMANDS section")
    else:
        page_cmds = set(re.findall(r"^\.SS\s+\"?([a-z][a-z0-9-]*)",
                                   src.split(".SH COMMANDS", 1)[1].split("\n.SH ", 1)[0],
                                   re.M))
    for c in cmds:
        if c not in page_cmds:
            problem(f"eptctl.8: command '{c}' (eptctl --help) has no .SS section")
    for c in sorted(page_cmds - set(cmds)):
        problem(f"eptctl.8: section '{c}' is no command of 'eptctl --help'")
    opts_text = detroff(sh.get("OPTIONS", ""))
    for o in sorted(glob):
        if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", opts_text):
            problem(f"eptctl.8: global option '{o}' (eptctl --help) missing under OPTIONS")
    exit_text = sh.get("EXIT STATUS", "")
    page_status = set(re.findall(r"^\.TP\n\.B\s+(\d+)\s*$", exit_text, re.M))
    for s in sorted(statuses - page_status):
        problem(f"eptctl.8: exit status {s} (eptctl --help) missing under EXIT STATUS")
    for s in sorted(page_status - statuses):
        problem(f"eptctl.8: exit status {s} under EXIT STATUS is not in eptctl --help")
    for c in cmds:
        if c not in page_cmds:
            continue
        h = help_text(eptctl, c)
        # its usage line repeats global options: those are under OPTIONS
        opts = options_in(h) - {"--help", "-h", "--"} - glob
        body = ss.get(c, "")
        text = detroff(body)
        for o in sorted(opts):
            if not re.search(r"(?<![\w-])" + re.escape(o) + r"(?![\w-])", text):
                problem(f"eptctl.8: '{c} {o}' ('eptctl {c} --help') missing in section {c}")
        for o in sorted(tp_options(body) - opts):
            problem(f"eptctl.8: section {c} lists '{o}', which 'eptctl {c} --help' does not")
        for o, vals in choices_in(h).items():
            for v in sorted(vals):
                if not re.search(r"(?<![\w-])" + re.escape(v) + r"(?![\w-])", text):
                    problem(f"eptctl.8: value '{c} {o} {v}' missing in section {c}")
    if not problems:
        print(f"docs: man eptctl.8: ok ({len(cmds)} commands, "
              f"{len(glob)} global options, {len(statuses)} exit statuses)")


def header_blocks(h):
    """The uapi comment: (conventions text, {ioctl: paragraph})."""
    m = re.match(r"\s*/\*.*?\*/\s*/\*(.*?)\*/", h, re.S)
    comment = m.group(1) if m else ""
    head, _, cmds = comment.partition(" * Commands:")
    blocks = {}
    for part in re.split(r"\n \* (?=EPM_IOC_)", cmds)[1:]:
        name = re.match(r"(EPM_IOC_\w+)", part).group(1)
        blocks[name] = part
    return head, blocks


def errnos_in(text):
    return {e for e in re.findall(r"(?<![\w-])E[A-Z0-9]{2,}(?!\w)", text) if e in ERRNOS}


def check_man4():
    n0 = len(problems)
    h = read("include/uapi/linux/ept_pmap.h")
    src = read("Documentation/man/ept-pmap.4")
    text = detroff(src)
    names = set(re.findall(r"^#define\s+(EPM_\w+)", h, re.M))
    structs = set(re.findall(r"^struct\s+(epm_\w+)\s*\{", h, re.M))
    page_names = set(re.findall(r"(?<!\w)(EPM_[A-Z0-9_]*[A-Z0-9])(?![\w*])", text))
    page_structs = set(re.findall(r"struct\s+(epm_\w+)", text))
    for n in sorted(names - page_names):
        problem(f"ept-pmap.4: {n} (uapi header) is not in the page")
    for n in sorted(page_names - names):
        problem(f"ept-pmap.4: the page names {n}, which the uapi header does not define")
    for s in sorted(structs - page_structs):
        problem(f"ept-pmap.4: struct {s} (uapi header) is not in the page")
    for s in sorted(page_structs - structs):
        problem(f"ept-pmap.4: the page names struct {s}, which the uapi header lacks")
    ioctls = set(re.findall(r"^#define\s+(EPM_IOC_\w+)\s+_IO", h, re.M))
    head, blocks = header_blocks(h)
    for i in sorted(ioctls - set(blocks)):
        problem(f"ept-pmap.4: {i} has no paragraph in the uapi header's comment")
    ss = man_sections(src, "SS")
    for i in sorted(ioctls):
        if i not in ss:
            problem(f"ept-pmap.4: {i} (uapi header) has no .SS section")
            continue
        want, got = errnos_in(blocks.get(i, "")), errnos_in(detroff(ss[i]))
        for e in sorted(want - got):
            problem(f"ept-pmap.4: section {i} lacks {e}, which the uapi header gives it")
        for e in sorted(got - want):
            problem(f"ept-pmap.4: section {i} names {e}, which the uapi header does not give it")
    for t in sorted(set(ss) - ioctls):
        if t.startswith("EPM_IOC_"):
            problem(f"ept-pmap.4: section {t} is no ioctl of the uapi header")
    conv = errnos_in(head.split(" * Conventions", 1)[-1])
    page_err = errnos_in(detroff(man_sections(src, "SH").get("ERRORS", "")))
    for e in sorted(conv - page_err):
        problem(f"ept-pmap.4: ERRORS lacks {e} (the uapi header's conventions)")
    for e in sorted(page_err - conv):
        problem(f"ept-pmap.4: ERRORS names {e}, not among the uapi header's conventions")
    returned = set()
    for f in sorted(os.listdir(os.path.join(TOP, "src"))):
        if f.endswith(".c"):
            returned |= set(re.findall(r"-(E[A-Z]+)\b", read("src/" + f)))
    for e in sorted(returned - errnos_in(head + "".join(blocks.values()))):
        problem(f"uapi header: the module returns {e} (src/*.c), its comment never names it")
    if len(problems) == n0:
        print(f"docs: man ept-pmap.4: ok ({len(ioctls)} ioctls, {len(names)} "
              f"names, {len(structs)} structs)")


def readme_section(text, title):
    m = re.search(r"^## " + re.escape(title) + r"\s*$(.*?)(?=^## |\Z)", text, re.M | re.S)
    return m.group(1) if m else ""


def check_readme(eptctl):
    """README's summary tables name only what exists: commands and their
    options (eptctl section), ioctls and structs (every ioctl, both ways)."""
    n0 = len(problems)
    readme = read("README.md")
    cmds, glob, _ = parse_overview(help_text(eptctl))
    rows = [l for l in readme_section(readme, "eptctl").splitlines()
            if l.startswith("| `")]
    if not rows:
        problem("README.md: no command table in section 'eptctl'")
    for row in rows:
        cell = row.split(" | ")[0].lstrip("| ")
        for span in re.findall(r"`([^`]+)`", cell):
            words = span.replace("\\|", "|").split()
            c = words[0]
            if c not in cmds:
                problem(f"README.md: eptctl table names command '{c}', which 'eptctl --help' lacks")
                continue
            opts = options_in(help_text(eptctl, c)) | glob
            for o in sorted(options_in(span.replace("\\|", " ")) - opts - {"--"}):
                problem(f"README.md: eptctl table gives '{c}' option '{o}', which 'eptctl {c} --help' lacks")
    h = read("include/uapi/linux/ept_pmap.h")
    ioctls = set(re.findall(r"^#define\s+(EPM_IOC_\w+)\s+_IO", h, re.M))
    structs = set(re.findall(r"^struct\s+(epm_\w+)\s*\{", h, re.M))
    sect = readme_section(readme, "The ioctl interface")
    named = set(re.findall(r"\b(EPM_IOC_[A-Z0-9_]+)", sect))
    for i in sorted(ioctls - named):
        problem(f"README.md: ioctl table lacks {i} (uapi header)")
    for i in sorted(named - ioctls - {"EPM_IOC_MAGIC"}):
        problem(f"README.md: ioctl table names {i}, which the uapi header lacks")
    for st in sorted(set(re.findall(r"struct (epm_\w+)", sect)) - structs):
        problem(f"README.md: ioctl table names struct {st}, which the uapi header lacks")
    if len(problems) == n0:
        print(f"docs: README tables: ok ({len(rows)} eptctl rows, {len(named)} ioctls)")


def tree_files():
    r = subprocess.run(["git", "-C", TOP, "ls-files", "-co", "--exclude-standard"],
                       capture_output=True, text=True, check=True)
    return [f for f in r.stdout.splitlines() if os.path.isfile(os.path.join(TOP, f))]


def check_design():
    n0 = len(problems)
    me = os.path.relpath(os.path.abspath(__file__), TOP)
    for f in tree_files():
        if f == me or f == "COPYING" or f.startswith("build/"):
            continue
        try:
            s = read(f)
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(s.splitlines(), 1):
            if re.search(r"\bDESIGN(\.md|:)|/work/shared|shared/DESIGN", line):
                problem(f"{f}:{n}: points at a design text outside the tree: {line.strip()}")
            for p in re.findall(r"(?<![\w/.-])(Documentation/[\w./-]*[\w])", line):
                if p.endswith((".rst", ".txt")) or p.split("/")[1] in KERNEL_DOCS:
                    continue  # the kernel's own Documentation/, not ours
                if not os.path.exists(os.path.join(TOP, p)):
                    problem(f"{f}:{n}: {p} does not exist")
    # the design document names code: every name and path must exist
    code = "".join(read(f) for f in tree_files()
                   if f.startswith(("src/", "include/", "tools/", "tests/"))
                   and f.endswith((".c", ".h", ".S")))
    design = read("Documentation/design.md")
    for name in sorted(set(re.findall(r"`[^`]*?\b((?:epm|EPM)_[A-Za-z0-9_]+)", design))):
        if not re.search(r"\b" + re.escape(name) + r"\b", code):
            problem(f"Documentation/design.md: `{name}` is nowhere in the code")
    for path in sorted(set(re.findall(r"`((?:src|include|tools|tests|selftests|scripts|debug|bench|lib|Documentation|man)/[^`*\s]*)`", design))):
        if path.startswith("Documentation/process/"):
            continue  # the kernel's
        if not os.path.exists(os.path.join(TOP, path.rstrip("/"))):
            problem(f"Documentation/design.md: `{path}` does not exist")
    for f in tree_files():
        if re.fullmatch(r"src/[^/]+\.(c|h|S)", f) and f"`{f}`" not in design:
            problem(f"Documentation/design.md: {f} is in no layer")
    if len(problems) == n0:
        print("docs: design pointers, names and paths: ok")


def main():
    if len(sys.argv) != 2:
        print("usage: scripts/docs_check.py EPTCTL", file=sys.stderr)
        return 2
    check_man8(sys.argv[1])
    check_man4()
    check_readme(sys.argv[1])
    check_design()
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
