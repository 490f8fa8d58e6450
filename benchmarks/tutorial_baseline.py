"""The baseline: a training loop written the way the official TensorBoard tutorial writes it.

TutorialNet on Fashion-MNIST through a per-sample ``ToTensor`` + ``Normalize((0.5,), (0.5,))``
DataLoader (batch size 4, 2 workers), SGD lr 0.001 momentum 0.9, one epoch, logging the running
loss and a predictions figure every 1000 batches, then test accuracy. Prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time

started = time.perf_counter()

import torch  # noqa: E402
from torch import nn  # noqa: E402
from torch.utils.data import DataLoader  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

from tbviz import data, models, plots, runtime  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--logdir", required=True)
    p.add_argument("--device", default=None)
    args = p.parse_args()
    device = runtime.device(args.device)
    torch.manual_seed(0)
    trainset, testset = data.datasets()  # ToTensor + Normalize((0.5,), (0.5,)) per sample
    trainloader = DataLoader(trainset, batch_size=4, shuffle=True, num_workers=2)
    testloader = DataLoader(testset, batch_size=4, shuffle=False, num_workers=2)
    net = models.TutorialNet().to(device)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9)
    writer = SummaryWriter(args.logdir)
    running_loss = 0.0
    for i, (inputs, labels) in enumerate(trainloader):
        inputs, labels = inputs.to(device), labels.to(device)
        optimizer.zero_grad()
        loss = criterion(net(inputs), labels)
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        if i % 1000 == 999:
            writer.add_scalar("training loss", running_loss / 1000, i)
            writer.add_figure(
                "predictions vs. actuals",
                plots.predictions_figure(net, inputs.cpu(), labels.cpu()),
                i,
            )
            running_loss = 0.0
    correct = total = 0
    net.eval()
    with torch.no_grad():
        for inputs, labels in testloader:
            outputs = net(inputs.to(device))
            correct += (outputs.argmax(1).cpu() == labels).sum().item()
            total += len(labels)
    writer.close()
    print(
        json.dumps(
            {
                "test_accuracy": round(correct / total, 4),
                "seconds": round(time.perf_counter() - started, 2),
                "device": str(device),
                "logdir": args.logdir,
            }
        )
    )


if __name__ == "__main__":
    main()
