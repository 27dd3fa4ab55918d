"""What gathering the ranks' records costs rank 0 at the end of a window (issue 32: under 50 ms for 8 ranks on one
host). N processes are given torchrun's variables (RANK, WORLD_SIZE, ...), each runs a tracker; they stop
together (a barrier), and rank 0's stop() is timed. The same with WORLD_SIZE=1 is the baseline (a tracker's stop
without a gather), alternated with the N-rank rounds; the difference of the medians is the gather's cost.

    python3 bench/rank_gather.py OUT.json [--ranks 8] [--rounds 15]
"""
import argparse
import json
import multiprocessing as mp
import os
import statistics
import tempfile
import time


def rank_main(rank, world, out_dir, barrier, results):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world), LOCAL_WORLD_SIZE=str(world),
                      TORCHELASTIC_RUN_ID=out_dir, MASTER_ADDR="127.0.0.1", MASTER_PORT="0")
    from sedenergy import EmissionsTracker
    tracker = EmissionsTracker("bench", output_dir=out_dir, gpu_ids=None, gather_timeout_s=30)
    tracker.start()
    time.sleep(0.3)
    barrier.wait()
    t0 = time.perf_counter()
    tracker.stop()
    results[rank] = time.perf_counter() - t0


def one_round(world):
    barrier, results = mp.Barrier(world), mp.Manager().dict()
    with tempfile.TemporaryDirectory() as d:
        procs = [mp.Process(target=rank_main, args=(r, world, d, barrier, results)) for r in range(world)]
        for p in procs:
            p.start()
        for p in procs:
            p.join()
        return results[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("out")
    ap.add_argument("--ranks", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=15)
    args = ap.parse_args()
    alone, gathered = [], []
    for _ in range(args.rounds):  # alternated, so both arms see the same machine state
        alone.append(one_round(1))
        gathered.append(one_round(args.ranks))
    result = {"ranks": args.ranks, "rounds": args.rounds, "cpus": os.cpu_count(),
              "stop_alone_ms_median": 1e3 * statistics.median(alone),
              "stop_rank0_of_n_ms_median": 1e3 * statistics.median(gathered),
              "gather_cost_ms": 1e3 * (statistics.median(gathered) - statistics.median(alone)),
              "stop_alone_ms": [1e3 * t for t in alone], "stop_rank0_of_n_ms": [1e3 * t for t in gathered]}
    with open(args.out, "w") as f:
        json.dump(result, f, indent=1)
    print(json.dumps({k: v for k, v in result.items() if not isinstance(v, list)}))


if __name__ == "__main__":
    main()
