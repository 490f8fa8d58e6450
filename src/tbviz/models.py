"""The course's networks (lesson 01 draws them; the training lessons train them), and
running one in evaluation mode.

* :class:`TutorialNet`: the small CNN of the official PyTorch TensorBoard tutorial.
* :class:`FastNet`: the course's default, about as cheap per image but with batch norm, so it
  trains with large batches and a high learning rate to 91%+ test accuracy in a few epochs.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch
from torch import nn


class TutorialNet(nn.Module):
    """conv(1->6, 5) -> pool -> conv(6->16, 5) -> pool -> fc 256->120 -> 120->84 -> 84->10, ReLU."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 4 * 4, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(torch.relu(self.conv1(x)))
        x = self.pool(torch.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(x))
        x = torch.relu(self.fc2(x))
        return self.fc3(x)


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    """3x3 convolution, 2x2 max-pool, batch norm, ReLU: halves the image side.

    Pooling before normalizing makes batch norm and ReLU work on a quarter of the pixels,
    which on a CPU is most of the time of a small network.
    """
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        nn.MaxPool2d(2),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class FastNet(nn.Module):
    """Two conv blocks (28->14->7), then a small classifier head.

    ``width`` scales the channels; ``dropout`` regularizes the head (lesson 08). ``features``
    returns the penultimate activations (lesson 06's embeddings).
    """

    def __init__(self, width: int = 16, hidden: int = 128, dropout: float = 0.0) -> None:
        super().__init__()
        self.width, self.hidden, self.dropout = width, hidden, dropout
        self.features_net = nn.Sequential(conv_block(1, width), conv_block(width, 2 * width))
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2 * width * 7 * 7, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
        )
        self.classifier = nn.Linear(hidden, 10)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features_net(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


MODELS = {"fast": FastNet, "tutorial": TutorialNet}


def build(name: str = "fast", **kwargs) -> nn.Module:
    """A model by name: ``"fast"`` (the default) or ``"tutorial"``."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name](**kwargs)


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters() if p.requires_grad)


def describe(net: nn.Module) -> dict[str, object]:
    """What :class:`tbviz.train.Config` would say about ``net``: model, width, hidden, dropout."""
    if isinstance(net, FastNet):
        return {"model": "fast", "width": net.width, "hidden": net.hidden, "dropout": net.dropout}
    if isinstance(net, TutorialNet):
        return {"model": "tutorial"}
    return {"model": type(net).__name__}


@contextmanager
def eval_mode(net: nn.Module) -> Iterator[torch.device]:
    """Run ``net`` in eval mode without gradients, then restore its mode; yields its device."""
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield next(net.parameters()).device
    finally:
        net.train(was_training)


def predict_probs(net: nn.Module, images: torch.Tensor, batch_size: int = 2000) -> torch.Tensor:
    """Softmax probabilities (N x classes) for ``images`` (on any device), returned on the CPU."""
    with eval_mode(net) as device:
        chunks = images.split(batch_size)
        return torch.cat([torch.softmax(net(chunk.to(device)), 1).cpu() for chunk in chunks])
