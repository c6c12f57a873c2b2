"""statsforecast's models on the shared rolling-origin protocol (scripts/bench-forecast).

Prints one JSON line per series, model and origin, in the same form as `alv-bench forecast`.
"""
import json
import sys
import time
import warnings

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore")
from statsforecast.models import MSTL, AutoARIMA, AutoETS, SeasonalNaive, SeasonalWindowAverage  # noqa: E402


def score(fc, actual, scale):
    mean = np.maximum(fc["mean"], 0)
    err = np.abs(actual - mean)
    denominator = np.abs(actual) + np.abs(mean)
    smape = np.where(denominator > 0, 200 * err / np.where(denominator > 0, denominator, 1), 0)
    out = {"mase": float(err.mean() / scale), "smape": float(smape.mean())}
    for level in (80, 95):
        if f"lo-{level}" not in fc:
            out[f"cov{level}"] = None  # the model gives no interval
            continue
        lo, hi = np.maximum(fc[f"lo-{level}"], 0), np.maximum(fc[f"hi-{level}"], 0)
        out[f"cov{level}"] = float(((actual >= lo) & (actual <= hi)).mean())
    return out


def main():
    files = [a for a in sys.argv[1:] if not a.startswith("--")]
    for path in files:
        frame = pd.read_csv(path)
        y = frame["value"].to_numpy(dtype=float)
        times = pd.to_datetime(frame["timestamp"])
        step = int((times.iloc[1] - times.iloc[0]).total_seconds())
        day, week = 86400 // step, 7 * 86400 // step
        name = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        models = {
            "SeasonalNaive-week": lambda: SeasonalNaive(season_length=week),
            "WindowAverage": lambda: SeasonalWindowAverage(season_length=week, window_size=3),
            "MSTL": lambda: MSTL(season_length=[day, week]),
            "AutoETS": lambda: AutoETS(season_length=day),
        }
        if day <= 24 and "--no-arima" not in sys.argv:
            models["AutoARIMA"] = lambda: AutoARIMA(season_length=day)
        origins = [len(y) - day - k * (week + day) for k in (2, 1, 0)]
        for model_name, make in models.items():
            # One fit on other data first, so that numba's compile time is not counted.
            try:
                make().forecast(y=y[: 4 * week], h=day)
            except Exception:
                pass
            for index, origin in enumerate(origins):
                train = y[max(0, origin - 4 * week):origin]
                actual = y[origin:origin + day]
                scale = np.abs(train[day:] - train[:-day]).mean()
                start = time.perf_counter()
                try:
                    # SeasonalWindowAverage has no intervals of its own.
                    levels = None if model_name == "WindowAverage" else [80, 95]
                    fc = make().forecast(y=train, h=day, level=levels)
                except Exception as error:  # a peer failing is reported, not fatal
                    print(json.dumps({"tool": "statsforecast", "series": name, "model": model_name, "origin": index,
                                      "error": str(error)[:200]}))
                    continue
                seconds = time.perf_counter() - start
                row = {"tool": "statsforecast", "series": name, "model": model_name, "origin": index, "h": day}
                row.update(score(fc, actual, scale))
                row["seconds"] = seconds
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
