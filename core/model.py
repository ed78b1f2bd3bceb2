"""The study's CNN and its regularizers."""
from __future__ import annotations

import torch
from torch import nn


class Net(nn.Module):
    """conv32-pool-conv64-conv128-pool-fc100-fc50-fc10, as in the reference study.

    `dropout` > 0 puts Dropout(p) before fc1, fc2 and fc3. `logit_relu`
    reproduces the notebook's ReLU on the logits (a flaw: a run whose logits
    all go negative is stuck at loss ln 10).
    """

    def __init__(self, dropout: float = 0.0, logit_relu: bool = False):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 3)
        self.conv2 = nn.Conv2d(32, 64, 3)
        self.conv3 = nn.Conv2d(64, 128, 3)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(128 * 5 * 5, 100)
        self.fc2 = nn.Linear(100, 50)
        self.fc3 = nn.Linear(50, 10)
        self.drop = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.logit_relu = logit_relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # pool then ReLU equals ReLU then pool bit for bit, values and gradients alike
        # (ReLU is monotone), and runs the ReLU on a quarter of the elements
        x = torch.relu(self.pool(self.conv1(x)))
        x = torch.relu(self.conv2(x))
        x = torch.relu(self.pool(self.conv3(x)))
        x = torch.flatten(x, 1)
        x = torch.relu(self.fc1(self.drop(x)))
        x = torch.relu(self.fc2(self.drop(x)))
        x = self.fc3(self.drop(x))
        return torch.relu(x) if self.logit_relu else x


def build_model(config) -> Net:
    return Net(dropout=config.strength if config.regularizer == "dropout" else 0.0,
               logit_relu=config.logit_relu)


def penalty(model: nn.Module, regularizer: str, strength: float) -> torch.Tensor | None:
    """λ·Σp² (l2) or λ·Σ|p| (l1) over every parameter, as the study adds it to the loss."""
    if regularizer == "l2":
        return strength * sum(p.pow(2).sum() for p in model.parameters())
    if regularizer == "l1":
        return strength * sum(p.abs().sum() for p in model.parameters())
    return None


FUSED_DEVICES = ("cpu", "cuda")


def build_optimizer(config, params) -> torch.optim.Optimizer:
    params = list(params)
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=config.momentum)
    # the same Adam update in one kernel per tensor instead of a dozen small ops each
    fused = all(p.device.type in FUSED_DEVICES and p.dtype == torch.float32 for p in params)
    return torch.optim.Adam(params, lr=config.lr, fused=fused or None)
