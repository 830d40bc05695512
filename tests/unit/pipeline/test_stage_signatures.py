"""No loose dicts between stages: what a stage operator hands a stage body, and what it gets back, is typed, and so
is every field of what travels between stages (the stage results and the manifest's facts)."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from typing import Any

from ingestion.land import landing_facts
from ingestion.pipeline import commit_stage, contracts, extract_driver, publish_stage, validate_stage

# What the stage operators call (operators/stages.py).
ENTRY_POINTS: list[Callable[..., Any]] = [
    extract_driver.extract_land,
    validate_stage.validate_run,
    publish_stage.publish_run,
    commit_stage.commit_run,
]
# What crosses from one stage to the next (XCom, the manifest).
TRAVELLING = [
    contracts.LandedRun,
    contracts.ValidatedRun,
    contracts.PublishedRun,
    contracts.CommittedRun,
    landing_facts.LandingFacts,
    landing_facts.LoadedFile,
    landing_facts.FileFacts,
    landing_facts.RecordCounts,
    landing_facts.SqlReadFacts,
    landing_facts.SchemaDriftFacts,
    landing_facts.AddedColumn,
    landing_facts.RetypedColumn,
]


def _names() -> dict[str, Any]:
    """The names the modules import for type checking only."""
    from ingestion.config.models import Column
    from ingestion.extract.window import WindowBounds
    from ingestion.pipeline.run_info import RunInfo
    from ingestion.pipeline.sources.base import Source
    from ingestion.pipeline.storage import StageStorage
    from ingestion.planner import EntityPlan
    from ingestion.validate.check_result import CheckResult

    return {
        "EntityPlan": EntityPlan,
        "RunInfo": RunInfo,
        "Source": Source,
        "StageStorage": StageStorage,
        "Column": Column,
        "WindowBounds": WindowBounds,
        "CheckResult": CheckResult,
        **{c.__name__: c for c in TRAVELLING},
    }


def _loose(annotation: Any) -> bool:
    """Whether the annotation is Any, or holds a mapping with Any values (`dict[str, Any]` and the like)."""
    if annotation is Any:
        return True
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    mapping = origin is not None and isinstance(origin, type) and issubclass(origin, Mapping)
    if mapping and len(args) == 2 and args[1] is Any:
        return True
    return any(_loose(arg) for arg in args if arg is not Ellipsis)


def test_stage_entry_points_take_and_return_no_dict_of_any() -> None:
    loose = []
    for function in ENTRY_POINTS:
        hints = typing.get_type_hints(function, localns=_names())
        loose += [f"{function.__module__}.{function.__name__}: {name}" for name, hint in hints.items() if _loose(hint)]
    assert loose == []
    assert typing.get_type_hints(extract_driver.extract_land, localns=_names())["return"] is contracts.LandedRun


def test_stage_results_and_manifest_facts_have_typed_fields() -> None:
    loose = []
    for cls in TRAVELLING:
        assert dataclasses.is_dataclass(cls), cls
        assert cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
        hints = typing.get_type_hints(cls, localns=_names())
        loose += [f"{cls.__name__}.{name}" for name, hint in hints.items() if _loose(hint)]
    assert loose == []


def test_the_check_itself_finds_a_dict_of_any() -> None:
    def loose(plan: object) -> dict[str, Any]:
        return {}

    def nested(rows: list[Mapping[str, Any]] | None) -> None:
        return None

    assert _loose(typing.get_type_hints(loose)["return"])
    assert _loose(typing.get_type_hints(nested)["rows"])
    assert not _loose(dict[str, int])
