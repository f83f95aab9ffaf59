"""`make scale`'s plots and table: reads the rows `cargo bench -p tenant --bench scale`
wrote (JSON), draws one PNG per measure under docs/scale/ (x: the size, log scale; one
line per dimension and route) and writes the table, with each route's ratio from the
smallest size to the largest, into BENCHMARKS.md between the bench:scale markers.

    .local/venv/bin/python scripts/scale.py ROWS.json [--docs docs/scale] [--write BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from bench.report import write_section

MEASURES = {
    "cpu_us": "CPU per request (µs)",
    "reply_bytes": "bytes read from the database per request",
    "commands": "database round trips per request",
    "p50_ms": "median latency (ms)",
    "peak_rss_kib": "peak RSS of the process (KiB)",
}
# What the issue calls flat: within 1.5x from the smallest size to the largest.
FLAT = 1.5


def series(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """The rows by (dimension, route), without the failed ones (a 5xx measures the
    failure, not the route: they are listed under the table)."""
    out: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for row in rows:
        if row["status"] < 500:
            out[(row["dimension"], row["route"])].append(row)
    return out


def plot(rows: list[dict], docs: Path) -> list[Path]:
    """One PNG per measure: a panel per dimension, a line per route."""
    docs.mkdir(parents=True, exist_ok=True)
    dimensions = list(dict.fromkeys(r["dimension"] for r in rows))
    made = []
    for key, label in MEASURES.items():
        fig, axes = plt.subplots(2, 2, figsize=(13, 9))
        for ax, dimension in zip(axes.flat, dimensions, strict=False):
            for (dim, route), points in series(rows).items():
                if dim != dimension:
                    continue
                points = sorted(points, key=lambda r: r["size"])
                ax.plot([p["size"] for p in points], [p[key] for p in points], marker="o",
                        label=route)
            ax.set_xscale("log")
            if key in ("reply_bytes", "cpu_us", "p50_ms"):
                ax.set_yscale("log")
            ax.set_title(f"{dimension}")
            ax.set_xlabel(f"{dimension} (log scale)")
            ax.set_ylabel(label)
            ax.grid(True, which="both", alpha=0.3)
            ax.legend(fontsize=7)
        fig.suptitle(f"{label} against the size of the data")
        fig.tight_layout()
        path = docs / f"{key}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        made.append(path)
    return made


def ratio(first: float, last: float) -> float:
    return last / first if first else (1.0 if not last else float("inf"))


def table(rows: list[dict]) -> str:
    lines = ["| dimension | route | sizes | commands | bytes read | CPU µs | p50 ms "
             "| peak RSS MiB | ratios (bytes, CPU) |", "|---|---|---|---|---|---|---|---|---|"]
    for (dimension, route), points in series(rows).items():
        points = sorted(points, key=lambda r: r["size"])
        first, last = points[0], points[-1]
        sizes = " → ".join(f"{p['size']:,}" for p in points)

        def span(key: str, fmt: str, points: list[dict] = points) -> str:
            return " → ".join(format(p[key], fmt) for p in points)

        rb, rc = ratio(first["reply_bytes"], last["reply_bytes"]), ratio(first["cpu_us"], last["cpu_us"])
        flag = "" if max(rb, rc) <= FLAT else " **not flat**"
        lines.append(
            f"| {dimension} | `{route}` | {sizes} | {span('commands', '.0f')} | "
            f"{span('reply_bytes', ',.0f')} | {span('cpu_us', ',.0f')} | {span('p50_ms', '.1f')} | "
            f"{' → '.join(format(p['peak_rss_kib'] / 1024, '.0f') for p in points)} | "
            f"{rb:.2f}×, {rc:.2f}×{flag} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("rows", type=Path)
    parser.add_argument("--docs", type=Path, default=Path("docs/scale"))
    parser.add_argument("--write", type=Path, help="BENCHMARKS.md, whose scale section to replace")
    args = parser.parse_args()
    data = json.loads(args.rows.read_text())
    rows = data["rows"]
    for path in plot(rows, args.docs):
        print(f"scale: {path}")
    failed = [r for r in rows if r["status"] >= 500]
    f = data["footprint"]
    text = (f"{table(rows)}\n\nAt rest, on the local server (`dbStats`): "
            f"{f['bytes_per_tenant']:,.0f} bytes of storage per organization made through the "
            f"API ({f['tenants']} made: registry document, account, collection); a registry "
            f"document averages {f['registry_doc_bytes'] or 0:,.0f} bytes.")
    if failed:
        text += "\n\nNot measured (the route answered a 5xx at this size, on the local server):\n\n" + \
            "\n".join(f"- {r['dimension']} {r['size']:,}: `{r['route']}` answered {r['status']} "
                      f"after {r['p50_ms'] / 1000:.1f} s (median)" for r in failed)
    print(text)
    if args.write:
        write_section(args.write, "scale", text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
