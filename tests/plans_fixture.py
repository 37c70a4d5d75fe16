"""Plans in tests: where the shipped plan's folder is, and a second plan made from it by editing
data only (issue 18, Done-when 2). Importable by any test: `from tests.plans_fixture import ...`.
"""
from __future__ import annotations

from pathlib import Path

SHIPPED = "liaoning_st_13th"  # the shipped (default) plan's id


def plan_dir(data_dir: Path, plan_id: str = SHIPPED) -> Path:
    """The folder of a plan in a data folder (data/plans/<plan_id>/)."""
    return Path(data_dir) / "plans" / plan_id


def shipped_plan():
    """The shipped plan's manifest (geoapp.data.plans.Plan), read from the project's data/."""
    from geoapp import DATA_DIR
    from geoapp.data.plans import load_plans
    plans, problems = load_plans(DATA_DIR)
    assert not problems, problems
    return plans[SHIPPED]


# Tasks of the shipped plan that name neither the Shenyang nor the Dalian zones (nor the belt
# between them): what the second plan keeps.
SECOND_TASKS = ("htz_tier2_national", "clusters_named", "national_labs", "cas_dandong_centre",
                "it_coastal_parks")


def copy_data(tmp_path: Path) -> Path:
    """A writable copy of the project's data/ in `tmp_path`/data."""
    import shutil

    from geoapp import DATA_DIR
    target = Path(tmp_path) / "data"
    shutil.copytree(DATA_DIR, target)
    return target


def make_second_plan(data_dir: Path, plan_id: str = "second_plan", tasks=SECOND_TASKS,
                     default: bool = False) -> Path:
    """A second plan in `data_dir` (a copy of data/), made as a planner would: copy the shipped
    plan's folder and edit data only — a new id and titles, not the default, no corridor (its
    derived geometry and the `corridor` key go), only `tasks` of its task list (none naming the
    Shenyang or Dalian zones), no outcomes. Returns the new folder."""
    import shutil

    import yaml
    target = plan_dir(data_dir, plan_id)
    shutil.copytree(plan_dir(data_dir), target)
    manifest_path = target / "plan.yaml"
    manifest = yaml.safe_load(manifest_path.read_text(encoding="utf-8"))
    corridor = manifest.pop("corridor")
    (target / f"{corridor['layer']}.geojson").unlink()
    (target / "outcomes.yaml").unlink(missing_ok=True)
    manifest["id"], manifest["default"] = plan_id, default
    manifest["kinds"] = [kind for kind in manifest["kinds"] if kind != "corridor"]  # no corridor, no such menu entry
    manifest["titles"] = {
        "full": {"zh": "第二个规划（测试用副本）", "en": "Second plan (a test copy)"},
        "short": {"zh": "第二个规划", "en": "Second plan"},
        "atlas": {"zh": "第二个规划地图", "en": "Second plan atlas"},
        "stats": {"zh": "第二个规划：空间任务", "en": "Second plan: spatial tasks"},
        "sources": {"zh": "第二个规划", "en": "Second plan"},
    }
    manifest_path.write_text(yaml.safe_dump(manifest, allow_unicode=True, sort_keys=False), encoding="utf-8")
    tasks_path = target / "tasks.yaml"
    kept = [task for task in yaml.safe_load(tasks_path.read_text(encoding="utf-8")) if task["id"] in tasks]
    for task in kept:  # target ids are what outcomes.yaml refers to; the copy has none
        for target_entry in task.get("targets") or ():
            target_entry.pop("id", None)
    tasks_path.write_text(yaml.safe_dump(kept, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return target
