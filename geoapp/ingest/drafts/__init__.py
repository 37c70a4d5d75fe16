"""Plan drafts: a plan's text -> proposed sections, places, tasks and targets, for a person to
review and publish as a plan folder (data/plans/<id>/).

    gazetteer  the province's names (boundaries, seats) and, unless province-only, the registry's
    extract    the text -> Draft (pure functions)
"""
from __future__ import annotations

from pathlib import Path

from geoapp import DATA_DIR
from geoapp.ingest.drafts.gazetteer import Gazetteer, build


def load_gazetteer(data_dir: Path = DATA_DIR, province_only: bool = False, registry=None) -> Gazetteer:
    """The gazetteer from a data folder: boundaries, seats and group terms only (province_only),
    or also the registry's places (`registry` if given, else loaded and validated from `data_dir`)."""
    from geoapp.data.groups import read_group_terms
    from geoapp.data.registry import read_boundaries
    from geoapp.data.validate import DataValidationError, read_seats

    if registry is not None:
        boundaries = registry.boundaries
    else:
        boundaries, problems = read_boundaries(Path(data_dir))
        if problems:
            raise DataValidationError(problems)
    seats, _ = read_seats(Path(data_dir) / "boundaries")
    # group terms are province data: read with --province-only too
    groups, problems = read_group_terms(Path(data_dir) / "boundaries", boundaries)
    if problems:
        raise DataValidationError(problems)
    places = None
    if not province_only:
        if registry is None:
            from geoapp.data import load_registry
            registry = load_registry(Path(data_dir))
        places = registry.counted_places()
    return build(boundaries, seats, places, groups)
