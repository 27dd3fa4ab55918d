"""A plain PyTorch loop measured by sedenergy: a "train" and a "test" window, each written to
OUT/emissions_<phase>.csv (CodeCarbon's columns) and OUT/energy.db (for `sedenergy report OUT/energy.db`).

    python3 examples/python/train_plain.py --features feats --tsv data/metadata/train/weak.tsv --out energy
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import desed_data  # noqa: E402
import sedenergy  # noqa: E402


def main():
    ap = desed_data.arguments(__doc__)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()

    x, y = desed_data.load(args.features, args.tsv)
    device = torch.device(args.device)
    torch.manual_seed(0)
    model = desed_data.CRNN().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=True)
    gpus = {"cuda_devices": [device.index or 0]} if device.type == "cuda" else {"gpus": "none"}
    phases = sedenergy.PhaseRecorder(output_dir=args.out, project_name="train_plain", **gpus)

    phases.begin("train")
    for _ in range(args.epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(model(xb), yb)
            loss.backward()
            opt.step()
    train = phases.end("train")

    phases.begin("test")
    model.eval()
    with torch.no_grad():
        correct = 0
        for xb, yb in loader:
            pred = torch.sigmoid(model(xb.to(device))) > 0.5
            correct += (pred.cpu() == yb.bool()).float().sum().item()
    test = phases.end("test")
    phases.close()
    print(json.dumps({"loss": loss.item(), "label_accuracy": correct / y.numel(),
                      "train": train.to_dict() | {"timeline": len(train.timeline)},
                      "test": test.to_dict() | {"timeline": len(test.timeline)}}))


if __name__ == "__main__":
    main()
