"""No code names the plan (issue 18, Done-when 3): whatever belongs to one plan is in its folder
(data/plans/<id>/), so the code serves any plan. The check reads the syntax tree of every module
of geoapp/: string literals and names count, docstrings and comments do not."""
import ast
from pathlib import Path

from geoapp import PROJECT_ROOT

# What identifies the shipped plan: its corridor's ends, its period's name, its text file, the
# ids of its corridor (task and layer).
PLAN_WORDS = ("htz_shenyang", "htz_dalian", "十三五", "13th", "liaoning_st_13th_fyp",
              "belt_shenyang", "shenyang_dalian_belt")


def docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                found.add(id(first.value))
    return found


def plan_words(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal (not a docstring), name, attribute or argument that
    contains one of PLAN_WORDS."""
    tree = ast.parse(source)
    skip = docstrings(tree)
    hits = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
            text = node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, ast.arg):
            text = node.arg
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            text = node.name
        else:
            continue
        if any(word in text for word in PLAN_WORDS):
            hits.append((node.lineno, text))
    return hits


def test_the_scan_finds_what_it_looks_for():
    source = ('"""十三五 in a docstring is fine."""\n'
              'AXIS = ("htz_shenyang", "x")  # 13th in a comment is fine\n'
              'def f(belt_shenyang_dalian):\n'
              '    """Docstring: liaoning_st_13th_fyp.txt"""\n'
              '    return f"辽宁“十三五”{belt_shenyang_dalian}"\n')
    found = plan_words(source)
    assert [line for line, _ in found] == [2, 3, 5, 5]
    assert not plan_words('"""Liaoning 13th FYP."""\nx = 1  # htz_dalian\n')


def test_no_module_of_geoapp_names_the_plan():
    offenders = []
    for path in sorted((PROJECT_ROOT / "geoapp").rglob("*.py")):
        for line, text in plan_words(path.read_text(encoding="utf-8")):
            offenders.append(f"{path.relative_to(PROJECT_ROOT)}:{line}: {text[:80]!r}")
    assert offenders == [], "plan-bound literals (move them to data/plans/<id>/plan.yaml):\n" + \
        "\n".join(offenders)


def test_the_plan_is_in_its_folder():
    """What the code no longer says, the shipped plan's folder does."""
    folder = PROJECT_ROOT / "data" / "plans"
    manifests = "\n".join(p.read_text(encoding="utf-8") for p in sorted(folder.glob("*/plan.yaml")))
    for word in ("htz_shenyang", "htz_dalian", "十三五", "13th", "liaoning_st_13th_fyp", "shenyang_dalian_belt",
                 "belt_shenyang"):
        assert word in manifests, word
    assert list(Path(folder).glob("*/liaoning_st_13th_fyp.txt"))
