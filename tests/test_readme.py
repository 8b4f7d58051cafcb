"""The README's and the documentation guides' code blocks run, so neither can rot.

Every ```python block of README.md, docs/index.md and docs/guides/*.md (the Markdown pages of the
site) is executed, each in a fresh namespace, in a scratch directory (a block preceded by a
``<!-- skip-test -->`` line is left out, with the reason in the test report).  In the ```sh
blocks, each ``python -m fastcorr`` command is checked: without a subcommand it is run (it is
the quick main job, with any ``VAR=value`` prefix applied); with one, the subcommand's
``--help`` must work and list every ``--option`` the page uses.  Scripts a page names under
``tools/`` must exist and be executable.  The README's first block holds the two install
commands, which ``.ci/run`` runs itself, as it runs the README's command that builds the site.

The README is read from the repository root beside ``tests/``; where it is absent (a copy of the
tests run against an installed wheel without it) the module is skipped, and where docs/ is absent
only the README is read.
"""
import glob
import os
import re
import shlex
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = os.path.join(ROOT, "README.md")
SKIP_MARK = "<!-- skip-test -->"
# Optional dependencies a block may import: where one is missing the block is skipped (naming
# it), as the tests of the feature it shows are.  Any other import must work.
OPTIONAL = ("dask", "distributed", "zarr", "torch", "sklearn", "matplotlib", "cv2", "skimage")

if not os.path.exists(README):
    pytest.skip("README.md is not beside tests/ (e.g. tests run from an installed wheel)",
                allow_module_level=True)


def code_blocks(text):
    """(language, first line number, source, skipped) for every fenced block, in order."""
    blocks = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\w*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        start = i + 1
        j = start
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        previous = next((ln.strip() for ln in reversed(lines[:i]) if ln.strip()), "")
        blocks.append((m.group(1), start + 1, "\n".join(lines[start:j]) + "\n",
                       previous == SKIP_MARK))
        i = j + 1
    return blocks


DOCUMENTS = [README] + sorted(glob.glob(os.path.join(ROOT, "docs", "index.md"))
                             + glob.glob(os.path.join(ROOT, "docs", "guides", "*.md")))


def blocks_of(path):
    """(page, language, first line, source, skipped) for every fenced block of `path`."""
    with open(path, encoding="utf-8") as f:
        blocks = code_blocks(f.read())
    page = os.path.relpath(path, ROOT)
    return [(page, *b) for b in blocks]


BLOCKS = [b for path in DOCUMENTS for b in blocks_of(path)]
PYTHON_BLOCKS = [b for b in BLOCKS if b[1] == "python"]
# BLOCKS[0], README's first block, is the two install commands, run by .ci/run in a fresh venv.
SH_BLOCKS = [b for b in BLOCKS[1:] if b[1] in ("sh", "bash", "console", "shell")]


def shell_commands(source):
    """Each simple command of a sh block as argv (comments dropped, split at && ; |)."""
    commands = []
    for line in source.splitlines():
        words = shlex.split(line, comments=True)
        current = []
        for word in words + [";"]:
            if word in ("&&", "||", ";", "|"):
                if current:
                    commands.append(current)
                current = []
            else:
                current.append(word)
    return commands


def fastcorr_commands():
    """(line, env assignments, args after ``python -m fastcorr``) from the sh blocks."""
    found = []
    for page, _, line, source, skipped in SH_BLOCKS:
        if skipped:
            continue
        for argv in shell_commands(source):
            env = {}
            while argv and re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", argv[0]):
                key, value = argv.pop(0).split("=", 1)
                env[key] = value
            if argv[:3] in (["python", "-m", "fastcorr"], ["python3", "-m", "fastcorr"]):
                found.append((f"{page}:{line}", env, argv[3:]))
    return found


def tool_scripts():
    scripts = set()
    for _, _, _, source, skipped in SH_BLOCKS:
        if not skipped:
            for argv in shell_commands(source):
                scripts.update(w for w in argv if w.startswith("tools/"))
    return sorted(scripts)


def run_fastcorr(args, env=(), timeout=300):
    full_env = dict(os.environ)
    full_env.update(env)
    return subprocess.run([sys.executable, "-m", "fastcorr", *args], capture_output=True,
                          text=True, timeout=timeout, env=full_env, cwd=os.path.dirname(README))


def test_readme_has_code_to_check():
    pages = {b[0] for b in PYTHON_BLOCKS}
    assert "README.md" in pages, "no ```python block found in README.md: the extractor is broken"
    if len(DOCUMENTS) > 1:  # the guides show the bench and the SIMD override
        assert fastcorr_commands(), "no `python -m fastcorr` command found in the guides' sh blocks"


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=[f"{b[0]}:{b[2]}" for b in PYTHON_BLOCKS])
def test_python_block_runs(block, tmp_path, monkeypatch):
    page, _, line, source, skipped = block
    if skipped:
        pytest.skip(f"marked {SKIP_MARK} in {page}")
    imported = set(re.findall(r"^\s*(?:from|import)\s+(\w+)", source, re.MULTILINE))
    for name in sorted(imported & set(OPTIONAL)):
        pytest.importorskip(name, reason=f"{page}:{line} needs {name}")
    monkeypatch.chdir(tmp_path)  # files a snippet writes land in a scratch directory
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # Blank lines before the code keep the README's line numbers in tracebacks.
    code = compile("\n" * (line - 1) + source, os.path.join(ROOT, page), "exec")
    exec(code, {"__name__": "__readme__"})


@pytest.mark.parametrize("command", fastcorr_commands(),
                         ids=lambda c: " ".join([f"{k}={v}" for k, v in c[1].items()]
                                                + ["python -m fastcorr", *c[2]]))
def test_fastcorr_command(command):
    line, env, args = command
    if not args or args[0].startswith("-"):
        # The main job: quick, so it runs for real (an unsupported FASTCORR_SIMD path on this
        # CPU would be a legitimate error, not a README problem).
        if env.get("FASTCORR_SIMD"):
            from fastcorr import _dispatch

            if env["FASTCORR_SIMD"] not in _dispatch.supported_paths():
                pytest.skip(f"this CPU cannot run FASTCORR_SIMD={env['FASTCORR_SIMD']}")
        proc = run_fastcorr(args, env)
        assert proc.returncode == 0, f"{line}: {proc.stdout}\n{proc.stderr}"
        if env.get("FASTCORR_SIMD"):
            assert env["FASTCORR_SIMD"] in proc.stdout, proc.stdout
        return
    # A subcommand (a benchmark can take minutes): its help must work and name every option used.
    proc = run_fastcorr([args[0], "--help"], env, timeout=60)
    assert proc.returncode == 0, f"{line}: {' '.join(args)}: {proc.stderr}"
    for option in (a.split("=", 1)[0] for a in args[1:] if a.startswith("--")):
        assert re.search(rf"(^|[\s,\[]){re.escape(option)}\b", proc.stdout), (
            f"{line} uses {option}, which `python -m fastcorr {args[0]} --help` "
            f"does not list:\n{proc.stdout}")


@pytest.mark.parametrize("script", tool_scripts())
def test_named_tool_exists(script):
    if not os.path.isdir(os.path.join(ROOT, "tools")):
        pytest.skip("tools/ is not beside the README (tests run outside the source tree)")
    path = os.path.join(ROOT, script)
    assert os.path.isfile(path), f"a page names {script}, which does not exist"
    if sys.platform != "win32":
        assert os.access(path, os.X_OK), f"{script} is not executable"
