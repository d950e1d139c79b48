"""PNG plots drawn from results.json (matplotlib is the optional `plot` extra).

Plots only read the results document: the figures never depend on matplotlib,
and a missing matplotlib costs a note, not a run.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

LATENCY_PNG = "latency.png"
TRADEOFF_PNG = "size_latency_accuracy.png"
COMPARE_PNG = "compare.png"
DPI = 120
MISSING = "plots skipped: matplotlib is not installed (pip install 'edgelstm[plot]')"


def available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a device or in CI
    import matplotlib.pyplot as plt

    return plt


def _ok(results: dict[str, Any]) -> list[dict[str, Any]]:
    return [row for row in results["rows"] if row.get("status") == "ok"]


def _label(row: dict[str, Any]) -> str:
    return f"{row['variant']}\n{row['backend']}"


def latency_plot(results: dict[str, Any], path: Path) -> Path:
    """Distribution of single-stream latency per row (log scale: Keras and int8 differ 200x)."""
    plt = _pyplot()
    rows = _ok(results)
    fig, ax = plt.subplots(figsize=(8, 0.6 * len(rows) + 1.5))
    ax.boxplot([row["latency"]["real"]["samples_ms"] for row in rows], vert=False, showfliers=True,
               flierprops={"markersize": 2})
    full = [row["latency"]["full"]["p50_ms"] for row in rows]
    ax.plot(full, range(1, len(rows) + 1), "x", color="tab:red", label="full-length p50")
    ax.set_yticks(range(1, len(rows) + 1), [_label(row) for row in rows], fontsize=7)
    ax.set_xscale("log")
    ax.invert_yaxis()  # first row on top, as in the tables
    ax.set_xlabel("latency at batch 1 (ms, log scale)")
    ax.set_title("Single-stream latency, real-length inputs", fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, plt, path)


def _quality(row: dict[str, Any]) -> float | None:
    """Accuracy on --data when measured, else on the golden set, else label agreement."""
    for value in (row.get("accuracy", {}).get("accuracy"), row["parity"].get("accuracy")):
        if value is not None:
            return value
    return 100.0 * row["parity"]["label_agreement"]


# One marker and colour per row, so rows at the same size (every float32 file) stay apart.
MARKERS = "osD^vP*Xh<>p"


def tradeoff_plot(results: dict[str, Any], path: Path) -> Path:
    """File size against median latency; each row named in a legend beside the plot with its accuracy.

    Names sit in the legend rather than beside the points: the float32 rows share one file
    size, so labels there pile on each other. Accuracy is written out rather than shown as
    a colour scale, which says nothing when (as usual) every variant scores the same.
    """
    plt = _pyplot()
    rows = _ok(results)
    fig, ax = plt.subplots(figsize=(9, 5))
    colours = plt.get_cmap("tab10")
    for index, row in enumerate(rows):
        quality = _quality(row)
        # Hollow markers of distinct shapes: two rows at one point (the numpy backend runs
        # tflite-fp32 and onnx-fp32 from the same weights) both stay visible.
        ax.scatter(row["bytes"] / 2**20, row["latency"]["real"]["p50_ms"], s=70, facecolors="none", linewidths=1.6,
                   marker=MARKERS[index % len(MARKERS)], edgecolors=colours(index % 10),
                   label=f"{row['variant']} / {row['backend']}: {quality:.2f} %")
    qualities = [_quality(row) for row in rows]
    spread = max(qualities) - min(qualities)
    title = "accuracy: all equal" if spread == 0 else f"accuracy (spread {spread:.2f} points)"
    ax.legend(title=title, fontsize=7, title_fontsize=8, loc="upper left", bbox_to_anchor=(1.02, 1.0),
              borderaxespad=0.0)
    ax.set_yscale("log")
    _plain_log_ticks(ax.yaxis, ax.get_ylim())
    ax.set_xlabel("file size (MB)")
    ax.set_ylabel("p50 latency at batch 1 (ms, log scale)")
    ax.set_title("File size vs p50 latency (accuracy in the legend)", fontsize=10)
    return _save(fig, plt, path)


def _plain_log_ticks(axis: Any, limits: tuple[float, float]) -> None:
    """0.3, 1, 10 on a log axis rather than 3x10^-1; minor ticks named only within one decade,
    where there are no major ones to read, and left blank on a wider range, where they would pile up."""
    from matplotlib.ticker import FormatStrFormatter, NullFormatter

    axis.set_major_formatter(FormatStrFormatter("%g"))
    low, high = limits
    axis.set_minor_formatter(FormatStrFormatter("%g") if high < 10 * low else NullFormatter())


def compare_plot(runs: list[dict[str, Any]], names: list[str], keys: list[tuple[str, str]], path: Path) -> Path:
    """Median latency of each row, one bar per run."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(keys) * len(runs) + 1.5))
    height = 0.8 / len(runs)
    for index, (run, name) in enumerate(zip(runs, names)):
        by_key = {(row["variant"], row["backend"]): row for row in _ok(run)}
        # NaN draws no bar: a row a run did not measure stays visibly empty.
        values = [by_key[key]["latency"]["real"]["p50_ms"] if key in by_key else float("nan") for key in keys]
        ax.barh([k + index * height for k in range(len(keys))], values, height=height, label=name)
    ax.set_yticks([k + 0.4 - height / 2 for k in range(len(keys))], [f"{v}\n{b}" for v, b in keys], fontsize=7)
    ax.set_xscale("log")
    ax.invert_yaxis()
    ax.set_xlabel("p50 latency at batch 1 (ms, log scale)")
    ax.set_title("Benchmark runs compared", fontsize=10)
    ax.legend(fontsize=7)
    return _save(fig, plt, path)


def _save(fig: Any, plt: Any, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def make_plots(results: dict[str, Any], out: Path) -> tuple[list[Path], str | None]:
    """The run's plots in `out`, or ([], why not)."""
    if not available():
        return [], MISSING
    if not _ok(results):
        return [], "plots skipped: no row was measured"
    return [latency_plot(results, out / LATENCY_PNG), tradeoff_plot(results, out / TRADEOFF_PNG)], None
