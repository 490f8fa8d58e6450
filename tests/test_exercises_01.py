"""Lesson 01's checkers: a correct attempt, typical wrong ones, and none."""

from __future__ import annotations

import warnings
from collections import OrderedDict

import pytest
import torch
from exercise_helpers import assert_verdict, verdict
from torch import nn
from torchinfo import summary

from tbviz import logs, models
from tbviz.exercises import CORRECT, INCORRECT, NOT_ATTEMPTED

LESSON = "01_model_graph"


@pytest.fixture(autouse=True)
def quiet_tracer():
    """add_graph's tracer warns that TorchScript is deprecated on every call."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=FutureWarning)
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
        yield


def log_graph(run: str, net: nn.Module, example=None) -> None:
    with logs.writer(LESSON, run) as writer:
        writer.add_graph(net, torch.rand(2, 1, 28, 28) if example is None else example)


def block(c_in: int, c_out: int, named: bool = True) -> nn.Sequential:
    layers = [
        ("conv", nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)),
        ("pool", nn.MaxPool2d(2)),
        ("norm", nn.BatchNorm2d(c_out)),
        ("relu", nn.ReLU(inplace=True)),
    ]
    return nn.Sequential(OrderedDict(layers)) if named else nn.Sequential(*(m for _, m in layers))


class Named(nn.Module):
    """FastNet with named blocks; ``inner=False`` leaves the layers inside them unnamed,
    ``nested=False`` puts the blocks directly in the model, with no feature extractor."""

    def __init__(self, inner: bool = True, nested: bool = True) -> None:
        super().__init__()
        blocks = OrderedDict([("block1", block(1, 8, inner)), ("block2", block(8, 16, inner))])
        if nested:
            self.features = nn.Sequential(blocks)
        else:
            self.block1, self.block2 = blocks["block1"], blocks["block2"]
            self.features = lambda x: self.block2(self.block1(x))
        self.classifier = nn.Linear(16 * 7 * 7, 10)

    def forward(self, x):
        return self.classifier(self.features(x).flatten(1))


def test_ex1(attempt_root):
    assert_verdict(verdict(LESSON, 1), NOT_ATTEMPTED, "01_model_graph/ex1_*")
    log_graph("ex1_named", models.FastNet(width=8))
    assert_verdict(verdict(LESSON, 1), INCORRECT, "named by position", "Sequential[0]")
    log_graph("ex1_named", Named(inner=False))
    assert_verdict(verdict(LESSON, 1), INCORRECT, "Conv2d[0]", "OrderedDict")
    log_graph("ex1_named", Named(nested=False))
    assert_verdict(verdict(LESSON, 1), INCORRECT, "inside the feature extractor")
    log_graph("ex1_named", Named())
    assert_verdict(verdict(LESSON, 1), CORRECT, "['block1', 'block2']", "conv, features, norm")
    log_graph("ex1_other", Named())
    assert_verdict(verdict(LESSON, 1), INCORRECT, "2 runs have a graph", "keep one")


class NamedPlainHead(Named):
    """Named blocks, but FastNet's head kept as it is: a plain (positional) Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Sequential(
            nn.Flatten(), nn.Linear(16 * 7 * 7, 32), nn.ReLU(inplace=True), nn.Dropout(0.0)
        )
        self.classifier = nn.Linear(32, 10)

    def forward(self, x):
        return self.classifier(self.head(self.features(x)))


def test_ex1_positional_head_is_fine(attempt_root):
    """Only the feature extractor needs names: a positional head is what FastNet has too."""
    log_graph("ex1_named", NamedPlainHead())
    result = verdict(LESSON, 1)
    assert_verdict(result, CORRECT, "feature extractor", "['block1', 'block2']")
    assert "Flatten" not in result.message and ", 0," not in result.message


def test_ex1_run_without_graph(attempt_root):
    with logs.writer(LESSON, "ex1_nothing") as writer:
        writer.add_scalar("x", 1.0, 0)
    assert_verdict(verdict(LESSON, 1), INCORRECT, "holds a graph", "add_graph")


def tables(run: str, steps=(1, 256), batches=(1, 256), net=None, tag="summary") -> None:
    net = net or models.TutorialNet()
    with logs.writer(LESSON, run) as writer:
        for step, batch in zip(steps, batches, strict=True):
            table = summary(net, input_size=(batch, 1, 28, 28), verbose=0)
            writer.add_text(tag, f"```\n{table}\n```", step)


def test_ex2(attempt_root):
    assert_verdict(verdict(LESSON, 2), NOT_ATTEMPTED, "ex2_batch_sizes")
    tables("ex2_batch_sizes", steps=(0, 0))  # add_text's default step
    assert_verdict(verdict(LESSON, 2), INCORRECT, "both step 1 and step 256", "[0, 0]")
    tables("ex2_batch_sizes", batches=(256, 1))  # each table at the other's step
    assert_verdict(verdict(LESSON, 2), INCORRECT, "each table at its own batch size")
    tables("ex2_batch_sizes", net=models.FastNet(width=8))
    assert_verdict(verdict(LESSON, 2), INCORRECT, "TutorialNet has 44,426")
    tables("ex2_batch_sizes", batches=(1, 2))
    assert_verdict(verdict(LESSON, 2), INCORRECT, "grows only from 0.04 to 0.08 MB")
    tables("ex2_batch_sizes")
    assert_verdict(verdict(LESSON, 2), CORRECT, "44,426", "0.04 to 9.61 MB")


def test_ex2_text_that_is_not_a_table(attempt_root):
    with logs.writer(LESSON, "ex2_words") as writer:
        writer.add_text("summary", "activations grow", 1)
        writer.add_text("summary", "parameters stay", 256)
    assert_verdict(verdict(LESSON, 2), INCORRECT, "no 'Total params:' line")


class Branchy(nn.Module):
    """The lesson's model; ``where=True`` is the exercise's rewrite."""

    def __init__(self, where: bool = False) -> None:
        super().__init__()
        self.where = where
        self.positive = nn.Linear(784, 10)
        self.negative = nn.Linear(784, 10)

    def forward(self, x):
        x = x.flatten(1)
        if self.where:
            return torch.where(x.mean(dim=1, keepdim=True) > 0, self.positive(x), self.negative(x))
        if x.mean() > 0:
            return self.positive(x)
        return self.negative(x)


def test_ex3(attempt_root):
    images = -torch.rand(4, 1, 28, 28)  # a negative mean, as the lesson's images have
    both = Branchy(where=True)
    exported = torch.export.export(both.eval(), (images,))
    assert_verdict(verdict(LESSON, 3), NOT_ATTEMPTED, "ex3.check(exported)")
    assert_verdict(verdict(LESSON, 3, exported), NOT_ATTEMPTED, "01_model_graph/ex3_*")
    log_graph("ex3_where", Branchy(), images)
    assert_verdict(verdict(LESSON, 3, exported), INCORRECT, "no positive module", "torch.where")
    log_graph("ex3_where", both, images)
    assert_verdict(verdict(LESSON, 3, both), INCORRECT, "Branchy (the model itself)")
    plain = torch.export.export(models.TutorialNet().eval(), (images,))
    assert_verdict(verdict(LESSON, 3, plain), INCORRECT, "no where among its operations")
    result = verdict(LESSON, 3, exported)
    assert_verdict(result, CORRECT, "positive, negative and aten::where", "linear, linear, where")
    kept = verdict(LESSON, 3)  # kept for the report (its message may say that it was kept)
    assert kept.verdict == CORRECT and kept.message.endswith(result.message)
