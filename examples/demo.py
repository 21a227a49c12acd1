"""The seed README's brief example, made concrete: watch the slow download being skipped.

Run it twice (``make demo`` does): the first run downloads and stores, the second loads the two
expensive inputs from their checkpoints and recomputes only the analysis you are working on.
"""

import logging
import os
import sys
import time

import chkpt

DOWNLOAD_SECONDS = float(os.environ.get("DEMO_SECONDS", "2"))


@chkpt.Stage.wrap()
def make_dataset1():
    """A slow feature build."""
    time.sleep(DOWNLOAD_SECONDS / 2)
    return [x * x for x in range(10)]


@chkpt.Stage.wrap()
def big_download2():
    """A big, slow download."""
    time.sleep(DOWNLOAD_SECONDS)
    return {"prices": [101.5, 99.25, 102.0, 98.75], "currency": "EUR"}


@chkpt.Stage.wrap()
def work_in_progress_analysis(dataset1, dataset2):
    """The cheap step you edit twenty times a day."""
    return {"n": len(dataset1), "mean_price": sum(dataset2["prices"]) / len(dataset2["prices"])}


pipeline = (make_dataset1, big_download2) >> work_in_progress_analysis


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="chkpt: %(message)s", stream=sys.stdout)
    directory = os.environ.get("CHKPT_DIR", os.path.join(os.path.dirname(__file__), ".chkpt"))
    config = chkpt.Config(load=[make_dataset1, big_download2], dir=directory)
    print(f"checkpoints in {directory}\n\nplan:\n{pipeline.plan(config)}\n")
    for attempt in (1, 2):
        start = time.perf_counter()
        result = pipeline.run(config)
        print(f"run {attempt}: {result.value}  ({time.perf_counter() - start:.2f}s)\n{result}\n")


if __name__ == "__main__":
    main()
