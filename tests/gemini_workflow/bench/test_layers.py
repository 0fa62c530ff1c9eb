"""Image anatomy read from the engine: sizes, layers, and the bytes a rebuild changed."""

from __future__ import annotations

import pytest

from gemini_workflow.bench import layers
from gemini_workflow.errors import WorkflowError
from tests.gemini_workflow.bench.support import FakeEngine, FakeImage


def test_layer_sizes_come_from_docker_save_including_linked_layers() -> None:
    image = FakeImage(
        [("sha256:a", b"a" * 5000), ("sha256:b", b"b" * 10), ("sha256:c", b"")], link_last=True
    )
    engine = FakeEngine({"img": image})

    assert layers.layer_sizes(engine, "img") == {"sha256:a": 5000, "sha256:b": 10, "sha256:c": 5000}
    assert layers.image_size(engine, "img") == 1000
    assert layers.layer_ids(engine, "img") == ["sha256:a", "sha256:b", "sha256:c"]


def test_layer_sizes_read_the_oci_layout_of_docker_25_and_later() -> None:
    image = FakeImage([("sha256:a", b"a" * 700), ("sha256:b", b"b" * 42)], oci=True)

    assert layers.layer_sizes(FakeEngine({"img": image}), "img") == {
        "sha256:a": 700,
        "sha256:b": 42,
    }


def test_changed_bytes_count_only_layers_the_old_image_lacks() -> None:
    before = FakeImage([("sha256:base", b"x" * 100), ("sha256:old", b"o" * 7)])
    after = FakeImage([("sha256:base", b"x" * 100), ("sha256:new", b"n" * 42)])

    assert layers.changed_bytes(FakeEngine({"a": before, "b": after}), "a", "b") == 42


def test_a_missing_image_is_named() -> None:
    with pytest.raises(WorkflowError, match="image gone:1 is not in the engine"):
        layers.image_size(FakeEngine(), "gone:1")
