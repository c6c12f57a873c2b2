"""Summarises the JSON lines of scripts/bench-forecast: per series and model, then overall."""
import collections
import json
import math
import sys

rows = [json.loads(line) for line in open(sys.argv[1]) if line.startswith("{")]
errors = [r for r in rows if "error" in r]
rows = [r for r in rows if "error" not in r]
groups = collections.defaultdict(list)
for r in rows:
    groups[(r["series"], f'{r["tool"]}:{r["model"]}')].append(r)
base = {s: sum(r["mase"] for r in v) / len(v) for (s, m), v in groups.items() if m == "alv:snaive-week"}


def mean(values):
    values = [v for v in values if v is not None and v == v]
    return sum(values) / len(values) if values else float("nan")


print(f'{"series":20} {"model":28} {"MASE":>7} {"sMAPE":>7} {"cov80":>6} {"cov95":>6} {"s/fit":>9}  chosen/notes')
relative = collections.defaultdict(list)
coverage = collections.defaultdict(list)
seconds = {}
for (series, model), v in sorted(groups.items()):
    mase = mean(r["mase"] for r in v)
    relative[model].append(mase / base[series])
    coverage[model] += v
    seconds[(series, model)] = mean(r["seconds"] for r in v)
    chosen = "; ".join(sorted({r.get("chosen", "")[:60] for r in v} - {""}))[:90]
    c80, c95 = mean(r["cov80"] for r in v), mean(r["cov95"] for r in v)
    cov = f"{c80:6.2f} {c95:6.2f}" if c80 == c80 else f'{"n/a":>6} {"n/a":>6}'
    print(f'{series:20} {model:28} {mase:7.3f} {mean(r["smape"] for r in v):7.2f} {cov} {seconds[(series, model)]:9.4f}  {chosen}')
print()
print("overall: geometric mean over series of mean MASE / weekly seasonal naive's; coverage pooled over all forecast steps")
for model, values in sorted(relative.items(), key=lambda kv: math.prod(kv[1]) ** (1 / len(kv[1]))):
    geo = math.exp(sum(math.log(x) for x in values) / len(values))
    v = [r for r in coverage[model] if r["cov80"] is not None]
    w = [r["h"] for r in v]  # pooled over forecast steps
    if v:
        c80 = sum(r["cov80"] * k for r, k in zip(v, w)) / sum(w)
        c95 = sum(r["cov95"] * k for r, k in zip(v, w)) / sum(w)
        cov = f"cov80 {c80:5.3f}  cov95 {c95:5.3f}"
    else:
        cov = "no intervals"
    print(f'{model:28} relative MASE {geo:6.3f}  {cov}  series {len(values)}')
print()
for series in sorted(base):
    auto, mstl = seconds.get((series, "alv:auto")), seconds.get((series, "statsforecast:MSTL"))
    if auto and mstl:
        print(f"{series}: alv auto {auto:.4f} s per fit+forecast vs statsforecast MSTL {mstl:.4f} s ({mstl / auto:.1f}x)")
for r in errors:
    print(f'error: {r["tool"]}:{r["model"]} on {r["series"]} origin {r["origin"]}: {r["error"]}')
