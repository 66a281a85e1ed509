#!/usr/bin/env python3
"""Fails, naming them, when a function in mod_idmbalance/ (.cc, .h) is longer than LIMIT lines.

A function's length counts the lines from the one holding its opening brace to the one holding
its closing brace. The scan matches braces after blanking comments, strings and character
literals; a top-level brace block is a function when the text before it ends in ")" (plus
qualifiers such as const, noexcept, override, a trailing return type or a constructor's
initialiser list). Namespaces, classes, structs, enums and initialisers are scanned into, so
member functions and lambdas' enclosing functions are measured too.

`// long-function: <why>` on the line before a function's first line exempts it.
Usage: scripts/check-function-length.py [--limit N] [FILE|DIR ...]  (default: mod_idmbalance/)
"""
import argparse
import re
import sys
from pathlib import Path

LIMIT = 60
EXEMPT = re.compile(r"//\s*long-function:\s*\S")
# Blocks whose body holds declarations rather than statements: scanned into.
SCOPE = re.compile(r"\b(namespace|class|struct|union|enum)\b[^;{}()]*$")


def blank(text: str) -> str:
    """The text with comments, string and char literals replaced by spaces (newlines kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c == 'R' and text.startswith('R"', i) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^(\s]*)\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i)
            j = n if end < 0 else end + len(m.group(1)) + 2
        elif c in "\"'":
            if c == "'" and i > 0 and text[i - 1].isalnum():  # digit separator: 1'000
                out.append(" ")
                i += 1
                continue
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
        else:
            out.append(c)
            i += 1
            continue
        out.append(re.sub(r"[^\n]", " ", text[i:j]))
        i = j
    return "".join(out)


def head_of(code: str, brace: int, opener: dict) -> str:
    """The text between the previous ; { or } and the brace at `brace`, reaching over the
    brace-initialisers of a constructor's initialiser list (`X() : a_{1}, b_{} {`)."""
    end = brace
    while True:
        k = max(code.rfind(ch, 0, end) for ch in ";{}")
        if k >= 0 and code[k] == "}" and k in opener:
            start = opener[k]
            before = code[:start].rstrip()
            if before and (before[-1].isalnum() or before[-1] in "_>") and ";" not in code[start:k]:
                whole = head_of(code, start, opener) + code[start:brace]
                if re.search(r"\)\s*:[^:]", whole):
                    return whole
        return code[k + 1:brace]


def is_function(head: str) -> bool:
    h = " ".join(head.split())
    if not h or SCOPE.search(h) or h.endswith("=") or h.endswith(",") or h.endswith("return"):
        return False
    h = re.sub(r"\s*->\s*[\w:<>,\s*&]+$", "", h)  # trailing return type
    h = re.sub(r"(\s*\b(const|noexcept|override|final|mutable)\b|\s*&&|\s*&)+$", "", h)
    if h.endswith((")", "}")):
        h = re.sub(r"\)\s*:[^:].*$", ")", h)  # a constructor's initialiser list
    return h.endswith(")") and not re.search(r"\b(if|for|while|switch|catch)\s*\(.*\)$", h) \
        and not re.search(r"\]\s*\(.*\)$", h)  # a lambda at namespace scope


def functions(path: Path):
    """(first line, last line, name line text) of every function body in the file."""
    code = blank(path.read_text(errors="replace"))
    line_of = [0] * (len(code) + 1)
    ln = 1
    for i, ch in enumerate(code):
        line_of[i] = ln
        if ch == "\n":
            ln += 1
    line_of[len(code)] = ln
    opener, open_at = {}, []
    for i, ch in enumerate(code):
        if ch == "{":
            open_at.append(i)
        elif ch == "}" and open_at:
            opener[i] = open_at.pop()
    stack = []  # (kind, index): kind "scope" (scanned into), "func" or "other"
    for i, ch in enumerate(code):
        if ch == "{":
            enclosing = stack[-1][0] if stack else "scope"
            if enclosing != "scope":
                stack.append(("other", i))
                continue
            head = head_of(code, i, opener)
            stack.append(("func" if is_function(head) else
                          "scope" if SCOPE.search(" ".join(head.split())) else "other", i))
        elif ch == "}" and stack:
            kind, start = stack.pop()
            if kind == "func":
                head = head_of(code, start, opener)
                m = re.match(r"\s*((public|protected|private)\s*:(?!:)\s*)?", head)
                first = line_of[start - len(head) + m.end()]
                yield first, line_of[start], line_of[i]


def check(path: Path, limit: int):
    lines = path.read_text(errors="replace").splitlines()
    for first, open_line, close_line in functions(path):
        length = close_line - open_line + 1
        if length <= limit:
            continue
        before = lines[first - 2] if first >= 2 else ""
        if EXEMPT.search(before):
            continue
        name = " ".join(lines[first - 1].split())
        yield f"{path}:{first}: {length} lines (limit {limit}): {name}"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--limit", type=int, default=LIMIT)
    ap.add_argument("paths", nargs="*")
    args = ap.parse_args(argv)
    root = Path(__file__).resolve().parent.parent
    paths = [Path(p) for p in args.paths] or [root / "mod_idmbalance"]
    files = sorted(f for p in paths for f in ([p] if p.is_file() else p.rglob("*"))
                   if f.suffix in (".cc", ".h") and f.is_file())
    bad = [msg for f in files for msg in check(f, args.limit)]
    if bad:
        print("check-function-length: functions longer than the limit (split them, or mark one with"
              " `// long-function: <why>` on the line before it):", file=sys.stderr)
        for msg in bad:
            print("  " + msg, file=sys.stderr)
        return 1
    print(f"check-function-length: {len(files)} files, no function over {args.limit} lines")
    return 0


if __name__ == "__main__":
    sys.exit(main())
