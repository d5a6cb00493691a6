"""The docs check: README.md, CHANGELOG.md, deploy/README.md and every docs/*.md say only
what exists.

Every relative link (and `#anchor` into a Markdown file) resolves; every command in a fenced
`sh` block exists (a `kefu` line parses with the real argument parser, without running; a
`make` target is in the Makefile; any other program is on PATH, a shell builtin, or one of a
few deployment tools); the `kefu` imports of every `python` block resolve; and the README
stays an entry page of at most 300 lines."""

import ast
import contextlib
import importlib
import io
import re
import shlex
import shutil
from pathlib import Path

import pytest

from kefu.cli import parser

ROOT = Path(__file__).resolve().parents[2]
PAGES = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    ROOT / "deploy" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
README_MAX_LINES = 300

SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
BUILTINS = {"cd", "export", "echo", "set", "unset", "source", ".", "test", "[", "true", "false"}
BUILTINS |= {"printf", "read", "wait", "kill", "exec", "exit", "trap", "pwd", "eval"}
# Programs the docs may name that need not be installed where the tests run, because they
# deploy or release kefu and are not needed to develop or test it: Docker builds the image and
# runs Compose; kubectl and kustomize apply the manifests to a cluster (the deployment tests
# render them with `kubectl kustomize` when it is there, but a reader of the docs may have
# neither); uv regenerates deploy/requirements.lock after a dependency change, a maintainer's
# step. Anything else a page tells people to run must be on PATH.
DEPLOY_TOOLS = {"docker", "kubectl", "kustomize", "uv"}
SEPARATORS = {"|", "||", "&&", ";", "&"}
REDIRECTS = {">", ">>", "<", "2>", "2>>", "&>", ">&", "<<<"}
ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")
FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})\s*([\w+-]*)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
LINK = re.compile(r"\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s.*)?$", re.MULTILINE)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def page_id(page: Path) -> str:
    return str(page.relative_to(ROOT))


def blocks(text: str) -> tuple[list[str], list[tuple[str, int, list[str]]]]:
    """The page's lines with fenced code blanked out, and every fenced block as
    (language, first line number, lines)."""
    prose, found, fence, language, start, body = [], [], None, "", 0, []
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if fence is None and match:
            fence, language, start, body = match.group(1), match.group(2).lower(), number + 1, []
            prose.append("")
        elif fence is not None and line.strip().startswith(fence[0] * len(fence)):
            if not line.strip().strip(fence[0]):
                found.append((language, start, body))
                fence = None
            else:
                body.append(line)
            prose.append("")
        elif fence is not None:
            body.append(line)
            prose.append("")
        else:
            prose.append(line)
    return prose, found


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower-cased, without punctuation, with
    spaces as hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text only
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    return re.sub(r"[^\w\- ]", "", text.lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    prose, _ = blocks(page.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    found = set()
    for line in prose:
        found.update(HTML_ANCHOR.findall(line))
        heading = HEADING.match(line)
        if not heading:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(page: Path) -> list[str]:
    prose, _ = blocks(page.read_text(encoding="utf-8"))
    text = INLINE_CODE.sub(lambda code: " " * len(code.group(0)), "\n".join(prose))
    return [target for _, target in LINK.findall(text)] + REFERENCE.findall(text)


def broken_link(page: Path, target: str) -> str | None:
    """Why a link does not resolve, or None."""
    if SCHEME.match(target) or target.startswith("//"):
        return None  # another site: not checked here
    path, _, anchor = target.partition("#")
    destination = (page.parent / path).resolve() if path else page
    if not destination.is_relative_to(ROOT):
        return f"{target}: outside the repository"
    if not destination.exists():
        return f"{target}: no such file"
    if anchor and destination.suffix == ".md" and anchor not in anchors(destination):
        return f"{target}: no heading #{anchor} in {page_id(destination)}"
    return None


def shell_lines(block: list[str], start: int) -> list[tuple[int, str]]:
    """Logical lines of a shell block, as a shell reads them: a line ending in a backslash or
    inside an open quote goes on on the next; `$ ` prompts dropped."""
    lines: list[tuple[int, str]] = []
    pending, first = "", start
    for number, line in enumerate(block, start):
        if not pending:
            first = number
        text = line.rstrip()
        if not pending and text.lstrip().startswith("$ "):
            text = text.lstrip()[2:]
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        if quote_open(pending + text):
            pending += text + "\n"
            continue
        lines.append((first, pending + text))
        pending = ""
    if pending:
        lines.append((first, pending))
    return lines


def quote_open(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return True
    return False


def commands(line: str) -> list[list[str]]:
    """The simple commands of one shell line, each as words without leading assignments or
    redirections: `A=1 kefu up | tee log && make test` → [kefu up], [tee log], [make test]."""
    line = re.sub(r"(^|\s)\d+(?=[<>])", r"\1", line)  # `2>file`: the descriptor goes
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    found: list[list[str]] = [[]]
    skip_next = False
    for token in lexer:
        if skip_next:
            skip_next = False
        elif token in SEPARATORS:
            found.append([])
        elif token in REDIRECTS or re.fullmatch(r"\d?>>?|&>", token):
            skip_next = True  # the file a redirection names
        elif token in {"(", ")"}:
            continue
        elif found[-1] or not ASSIGNMENT.match(token):
            found[-1].append(token)
    return [words for words in found if words]


def make_targets() -> set[str]:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    targets = set()
    for match in re.finditer(r"^([^\s#=:][^=:]*?)\s*::?(?!=)", makefile, re.MULTILINE):
        names = match.group(1).split()
        targets.update(name for name in names if not name.startswith((".", "$")))
    return targets


def missing_command(words: list[str], targets: set[str]) -> str | None:
    """Why a command does not exist, or None."""
    program = words[0]
    if program == "kefu" or program.endswith("/bin/kefu"):
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                parser().parse_args(words[1:])
        except SystemExit as stop:
            if stop.code not in (0, None):  # 0: --version or --help, which exist
                return err.getvalue().strip().splitlines()[-1] if err.getvalue() else "exit"
        return None
    if program == "make":
        unknown = [w for w in words[1:] if not w.startswith("-") and "=" not in w]
        unknown = [w for w in unknown if w not in targets]
        return f"no Makefile target {', '.join(unknown)}" if unknown else None
    if program in BUILTINS or program in DEPLOY_TOOLS:
        return None
    if "/" in program:
        return None if (ROOT / program).exists() or Path(program).exists() else "no such file"
    return None if shutil.which(program) else f"{program} is not installed"


def kefu_imports(source: str) -> list[tuple[str, list[str]]]:
    """(module, names) of every `from kefu… import …` and `import kefu…` in the source."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "kefu":
            found.append((node.module or "", [alias.name for alias in node.names]))
        elif isinstance(node, ast.Import):
            found += [(a.name, []) for a in node.names if a.name.split(".")[0] == "kefu"]
    return found


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_relative_link_resolves(page: Path) -> None:
    problems = [why for target in links(page) if (why := broken_link(page, target))]
    assert not problems, f"{page_id(page)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_every_command_exists(page: Path) -> None:
    targets, problems = make_targets(), []
    for language, start, block in blocks(page.read_text(encoding="utf-8"))[1]:
        if language not in SHELL_BLOCKS:
            continue
        for number, line in shell_lines(block, start):
            try:
                simple = commands(line)
            except ValueError as error:  # unbalanced quotes
                problems.append(f"{page_id(page)}:{number}: {line.strip()}: {error}")
                continue
            for words in simple:
                if why := missing_command(words, targets):
                    problems.append(f"{page_id(page)}:{number}: {line.strip()}: {why}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("page", PAGES, ids=page_id)
def test_python_examples_parse_and_import_from_kefu(page: Path) -> None:
    problems = []
    for language, start, block in blocks(page.read_text(encoding="utf-8"))[1]:
        if language not in {"python", "py"}:
            continue
        try:
            imports = kefu_imports("\n".join(block))
        except SyntaxError as error:
            problems.append(f"{page_id(page)}:{start + (error.lineno or 1) - 1}: {error.msg}")
            continue
        for module, names in imports:
            try:
                imported = importlib.import_module(module)
            except ImportError as error:
                problems.append(f"{page_id(page)}:{start}: {error}")
                continue
            problems += [
                f"{page_id(page)}:{start}: {module} has no {name}"
                for name in names
                if not hasattr(imported, name)
            ]
    assert not problems, "\n".join(problems)


def test_the_readme_is_an_entry_page() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move some to docs/"


def test_the_docs_index_lists_every_page() -> None:
    listed = set(links(ROOT / "docs" / "index.md"))
    pages = {path.name for path in (ROOT / "docs").glob("*.md")} - {"index.md"}
    assert pages <= listed, f"docs/index.md does not list {sorted(pages - listed)}"


def test_the_checker_reads_shell_lines_as_a_shell_would() -> None:
    line = "KEFU_X=1 kefu run intake 2>/dev/null | tee log && make test  # and a comment"
    assert commands(line) == [["kefu", "run", "intake"], ["tee", "log"], ["make", "test"]]
    block = ["$ curl -sS -X POST http://x \\", '  -d \'{"a":', "1}'", "# only a comment"]
    assert shell_lines(block, 10) == [
        (10, "curl -sS -X POST http://x    -d '{\"a\":\n1}'"),
        (13, "# only a comment"),
    ]
    assert commands("# only a comment") == []
    assert missing_command(["kefu", "run", "nobody"], set()) is not None
    assert missing_command(["kefu", "run", "intake"], set()) is None
    assert missing_command(["make", "no-such-target"], {"test"}) is not None
    assert slug("8. People, conversations and the agent desk (planned)") == (
        "8-people-conversations-and-the-agent-desk-planned"
    )
    assert slug("How `make bench` measures") == "how-make-bench-measures"
