"""The reference post's hand-written PyTorch LeNet4, as its author wrote it: the yardstick
``make bench`` holds the emitted module to (same structure, same numbers, same speed).

Weights are copied from the emitted ``weights.pt``; that the two modules then compute the
same is checked by the benchmark before it times them.
"""

from __future__ import annotations

import torch
from torch import nn


class HandWrittenLeNet4(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(in_channels=1, out_channels=6, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(in_channels=6, out_channels=16, kernel_size=5, padding=2),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.fc1 = nn.Sequential(nn.Linear(16 * 7 * 7, 84), nn.ReLU())
        self.before_softmax = nn.Linear(84, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv2(self.conv1(x))
        x = self.fc1(torch.flatten(x, 1))
        return torch.softmax(self.before_softmax(x), dim=-1)


# emitted state_dict key -> hand-written key
KEYS = {
    "block1_conv1": "conv1.0",
    "block2_conv1": "conv2.0",
    "fc1": "fc1.0",
    "before_softmax": "before_softmax",
}


def from_emitted(state: dict[str, torch.Tensor]) -> HandWrittenLeNet4:
    model = HandWrittenLeNet4()
    renamed = {}
    for key, tensor in state.items():
        layer, param = key.rsplit(".", 1)
        renamed[f"{KEYS[layer]}.{param}"] = tensor
    model.load_state_dict(renamed)
    return model.eval()
