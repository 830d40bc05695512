"""The local target's bundle: releases staged complete, `current` switched by one rename, old releases pruned."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ingestion.release.errors import BundleError
from ingestion.release.local_bundle import LocalBundle


def _tree(root: Path, marker: str) -> Path:
    for name in ("dags", "plugins", "include"):
        (root / name).mkdir(parents=True)
        (root / name / "marker.txt").write_text(marker)
    (root / "plugins" / "__pycache__").mkdir()
    (root / "plugins" / "__pycache__" / "x.pyc").write_bytes(b"stale")
    return root


def test_a_release_is_staged_without_bytecode_and_served_through_the_link(tmp_path: Path) -> None:
    bundle = LocalBundle(tmp_path / "bundle")
    assert bundle.current() is None
    first = bundle.stage(_tree(tmp_path / "a", "one"), "r1")
    assert not (first / "plugins" / "__pycache__").exists()
    bundle.switch(first)
    assert bundle.current() == first.resolve()
    assert (bundle.link / "dags" / "marker.txt").read_text() == "one"
    second = bundle.stage(_tree(tmp_path / "b", "two"), "r2")
    assert (bundle.link / "dags" / "marker.txt").read_text() == "one"  # staged is not served
    bundle.switch(second)
    assert (bundle.link / "dags" / "marker.txt").read_text() == "two"
    assert os.readlink(bundle.link) == str(Path("releases") / "r2")  # relative: the folder can move
    bundle.switch(first)
    assert (bundle.link / "include" / "marker.txt").read_text() == "one"


def test_a_tree_that_is_not_a_checkout_is_refused(tmp_path: Path) -> None:
    (tmp_path / "t" / "dags").mkdir(parents=True)
    with pytest.raises(BundleError, match="has no plugins, include folder"):
        LocalBundle(tmp_path / "bundle").stage(tmp_path / "t", "r1")


def test_a_release_id_is_staged_once(tmp_path: Path) -> None:
    bundle = LocalBundle(tmp_path / "bundle")
    bundle.stage(_tree(tmp_path / "a", "one"), "r1")
    with pytest.raises(BundleError, match="already staged"):
        bundle.stage(tmp_path / "a", "r1")


def test_a_current_that_is_not_a_link_into_releases_is_refused(tmp_path: Path) -> None:
    bundle = LocalBundle(tmp_path / "bundle")
    bundle.root.mkdir()
    bundle.link.mkdir()
    with pytest.raises(BundleError, match="must be a symbolic link"):
        bundle.current()
    bundle.link.rmdir()
    bundle.link.symlink_to(tmp_path)
    with pytest.raises(BundleError, match="points outside"):
        bundle.current()


def test_prune_keeps_the_newest_the_served_and_the_named(tmp_path: Path) -> None:
    bundle = LocalBundle(tmp_path / "bundle")
    staged = [bundle.stage(_tree(tmp_path / f"t{i}", str(i)), f"2026120{i}T000000Z-v{i}") for i in range(6)]
    bundle.switch(staged[0])
    removed = bundle.prune(keep=2, also_keep=(staged[1],))
    assert removed == [staged[2].name, staged[3].name]
    assert sorted(p.name for p in bundle.releases.iterdir()) == sorted(
        p.name for p in (staged[0], staged[1], *staged[4:])
    )
