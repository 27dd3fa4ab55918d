"""A DCASE-style script: CodeCarbon's OfflineEmissionsTracker around training and around the test, as the DCASE
task 4 baseline does, with the only change `from sedenergy import OfflineEmissionsTracker`.

    python3 examples/python/train_dcase_tracker.py --features feats --tsv data/metadata/train/weak.tsv --out energy

--check-nvml FILE (GPU machines): the script also reads the NVML energy counter itself right after start() and
right before stop(), and writes both the tracker's kWh and its own to FILE.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import desed_data  # noqa: E402
from sedenergy import OfflineEmissionsTracker  # noqa: E402  (was: from codecarbon import ...)


def main():
    ap = desed_data.arguments(__doc__)
    ap.add_argument("--test-passes", type=int, default=1, help="passes over the data in the test window")
    ap.add_argument("--check-nvml")
    args = ap.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    counter = None
    if args.check_nvml:
        counter = desed_data.nvml_counter(torch.cuda.current_device())

    x, y = desed_data.load(args.features, args.tsv)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=8, shuffle=True)
    torch.manual_seed(0)
    model = desed_data.CRNN().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gpu_ids = [torch.cuda.current_device()] if device.type == "cuda" else None
    check = {}

    tracker = OfflineEmissionsTracker("DCASE Task 4 SED TRAINING", output_dir=args.out, log_level="warning",
                                      country_iso_code="FRA", gpu_ids=gpu_ids,
                                      output_file="emissions_baseline_training.csv")
    tracker.start()
    c0 = counter() if counter else None
    for _ in range(args.epochs):
        for xb, yb in loader:
            xb, yb = xb.to(device), yb.to(device)
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(model(xb), yb).backward()
            opt.step()
    c1 = counter() if counter else None
    tracker.stop()
    if counter:
        check["train"] = {"nvml_j": c1 - c0, "tracker_gpu_j": tracker.final_emissions_data.gpu_energy * 3.6e6,
                          "duration_s": tracker.final_emissions_data.duration}

    tracker = OfflineEmissionsTracker("DCASE Task 4 SED EVAL", output_dir=args.out, log_level="warning",
                                      country_iso_code="FRA", gpu_ids=gpu_ids,
                                      output_file="emissions_baseline_test.csv")
    tracker.start()
    c0 = counter() if counter else None
    model.eval()
    with torch.no_grad():
        for _ in range(args.test_passes):
            for xb, _ in loader:
                model(xb.to(device))
    c1 = counter() if counter else None
    tracker.stop()
    if counter:
        check["test"] = {"nvml_j": c1 - c0, "tracker_gpu_j": tracker.final_emissions_data.gpu_energy * 3.6e6,
                         "duration_s": tracker.final_emissions_data.duration}
        with open(args.check_nvml, "w") as f:
            json.dump(check, f)
    print(json.dumps({"train_csv": os.path.join(args.out, "emissions_baseline_training.csv"),
                      "test_csv": os.path.join(args.out, "emissions_baseline_test.csv"), "check": check}))


if __name__ == "__main__":
    main()
