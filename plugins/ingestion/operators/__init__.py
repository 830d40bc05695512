"""Operators of the ingestion pipeline: one per stage of an entity's TaskGroup."""

from __future__ import annotations

from ingestion.operators.stages import (
    CommitOperator,
    EntityStageOperator,
    ExtractLandOperator,
    PublishOperator,
    ValidateOperator,
)

STAGE_OPERATORS: dict[str, type[EntityStageOperator]] = {
    "extract_land": ExtractLandOperator,
    "validate": ValidateOperator,
    "publish": PublishOperator,
    "commit": CommitOperator,
}

__all__ = [
    "STAGE_OPERATORS",
    "CommitOperator",
    "EntityStageOperator",
    "ExtractLandOperator",
    "PublishOperator",
    "ValidateOperator",
]
