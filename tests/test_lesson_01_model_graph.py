"""After lesson 01: every run holds a traced graph with the module scopes the lesson names."""

from __future__ import annotations

import re

import pytest

from tbviz import events

pytestmark = pytest.mark.after_lessons

LESSON = "01_model_graph"

EXPECTED_SCOPES = {
    "tutorial_net": {"conv1", "pool", "conv2", "fc1", "fc2", "fc3"},
    "fast_net": {"features_net", "head", "classifier"},
    "pitfall_dict": {"body", "classes", "embedding"},
    "pitfall_branch": {"negative"},
    "pitfall_two_inputs": {"image_branch", "meta_branch", "out"},
}


def node_names(run) -> list[str]:
    return [node.name for node in events.accumulator(run).Graph().node]


def scopes(run) -> set[str]:
    """Module attribute names in the graph's node names: 'TutorialNet/Linear[fc1]/x' -> fc1."""
    return {m for name in node_names(run) for m in re.findall(r"\[(\w+)\]", name)}


def test_every_run_of_the_lesson_is_there(lesson_runs):
    assert set(lesson_runs(LESSON)) == set(EXPECTED_SCOPES)


@pytest.mark.parametrize("run_name", sorted(EXPECTED_SCOPES))
def test_graph_present_with_module_names(lesson_runs, run_name):
    run = lesson_runs(LESSON)[run_name]
    assert events.tags(run)["graph"], f"{run_name}: no graph event"
    missing = EXPECTED_SCOPES[run_name] - scopes(run)
    assert not missing, f"{run_name}: graph lacks the module scopes {missing}"


def test_graph_ops_carry_their_scope(lesson_runs):
    names = node_names(lesson_runs(LESSON)["tutorial_net"])
    for module in ("Conv2d[conv1]", "Conv2d[conv2]", "Linear[fc1]", "Linear[fc2]", "Linear[fc3]"):
        assert any(name.startswith(f"TutorialNet/{module}/") for name in names), module


def test_data_dependent_branch_traced_once(lesson_runs):
    found = scopes(lesson_runs(LESSON)["pitfall_branch"])
    assert "negative" in found
    assert "positive" not in found, "the branch not taken must be absent from the traced graph"


def test_two_inputs_become_two_input_nodes(lesson_runs):
    names = node_names(lesson_runs(LESSON)["pitfall_two_inputs"])
    assert sorted(n for n in names if n.startswith("input/")) == ["input/image", "input/meta"]


@pytest.mark.parametrize("run_name", ["tutorial_net", "fast_net"])
def test_summary_table_logged_as_text(lesson_runs, run_name):
    run = lesson_runs(LESSON)[run_name]
    assert "summary/text_summary" in events.tags(run)["tensors"]
    event = events.accumulator(run).Tensors("summary/text_summary")[0]
    text = event.tensor_proto.string_val[0].decode()
    assert text.startswith("```") and text.rstrip().endswith("```"), "not a markdown code block"
    assert "Total params" in text and "Output Shape" in text
    params = {"tutorial_net": "44,426", "fast_net": "206,970"}[run_name]
    assert f"Total params: {params}" in text
