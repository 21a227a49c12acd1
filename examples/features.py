"""A numeric pipeline: a slow simulated download, a feature build with a bound parameter, a fit.

Shows a diamond (one source feeding two branches that run once), bound parameters in the key,
a dry-run plan, and the per-stage report. Run it twice, or change WINDOW, and watch what reruns.
"""

import logging
import os
import sys
import time

import numpy as np

import chkpt

WINDOW = int(os.environ.get("WINDOW", "5"))


@chkpt.Stage.wrap()
def download(n=200_000):
    """Pretend this takes minutes."""
    time.sleep(1)
    return np.random.default_rng(0).normal(size=n).cumsum()


@chkpt.Stage.wrap()
def smooth(prices, window=3):
    kernel = np.ones(window) / window
    return np.convolve(prices, kernel, mode="valid")


@chkpt.Stage.wrap()
def returns(prices):
    return np.diff(prices)


@chkpt.Stage.wrap()
def fit(smoothed, rets):
    n = min(len(smoothed) - 1, len(rets))
    slope, intercept = np.polyfit(smoothed[:n], rets[:n], 1)
    return {"slope": float(slope), "intercept": float(intercept), "n": n}


pipeline = (download >> smooth.bind(window=WINDOW), download >> returns) >> fit


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="chkpt: %(message)s", stream=sys.stdout)
    config = chkpt.Config(
        load=True,
        dir=os.environ.get("CHKPT_DIR", os.path.join(os.path.dirname(__file__), ".chkpt")),
    )
    print(pipeline.plan(config), end="\n\n")
    run = pipeline.run(config)
    print(f"\n{run}\n\nfit: {run.value}")


if __name__ == "__main__":
    main()
