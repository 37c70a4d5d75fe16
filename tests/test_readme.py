"""The README is the map of the house: every route is in its table, its tree matches the folders."""
import re
import subprocess

from geoapp import PROJECT_ROOT

README = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")


def _shape(path: str) -> str:
    """A URL pattern with every variable part written as <>: /export/<layer>.<fmt> -> /export/<>.<>"""
    return re.sub(r"<[^<>]*>", "<>", path)


def test_every_route_is_documented_in_the_readme(app):
    documented = {_shape(m) for m in re.findall(r"`(/[^`?\s]*)", README)}
    missing = [rule.rule for rule in app.url_map.iter_rules() if _shape(rule.rule) not in documented]
    assert missing == [], f"routes not in the README's table: {missing}"


def _tree() -> list[str]:
    block = README.split("## Where things live", 1)[1].split("```")[1]
    return [line.split()[0] for line in block.splitlines() if line.strip() and not line.startswith(" ")]


def _tracked_folders() -> set[str]:
    files = subprocess.run(["git", "ls-files"], capture_output=True, text=True, cwd=PROJECT_ROOT,
                           check=True).stdout.split()
    folders = set()
    for name in files:
        parts = name.split("/")[:-1]
        if parts and not parts[0].startswith("."):
            folders.add(parts[0] + "/")
            if parts[0] in ("data", "geoapp") and len(parts) > 1:
                folders.add(f"{parts[0]}/{parts[1]}/")
    return folders - {"geoapp/web/static/", "geoapp/web/templates/"} - {
        f"geoapp/{p}/" for p in ("__pycache__",)}


def test_readme_tree_names_only_what_exists():
    for entry in _tree():
        assert (PROJECT_ROOT / entry).exists(), f"README tree lists {entry}, which does not exist"


def test_every_folder_is_in_the_readme_tree():
    listed = set(_tree())
    missing = sorted(f for f in _tracked_folders() if f not in listed and f not in ("data/", "geoapp/"))
    assert missing == [], f"folders missing from the README tree: {missing}"
