"""Plans in tests: where the shipped plan's folder is, and a second plan made from it by editing
data only (issue 18, Done-when 2). Importable by any test: `from tests.plans_fixture import ...`.
"""
from __future__ import annotations

from pathlib import Path

SHIPPED = "liaoning_st_13th"  # the shipped (default) plan's id


def plan_dir(data_dir: Path, plan_id: str = SHIPPED) -> Path:
    """The folder of a plan in a data folder (data/plans/<plan_id>/)."""
    return Path(data_dir) / "plans" / plan_id
