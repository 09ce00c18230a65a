"""Figures of width sweeps and concentration (matplotlib imported lazily, Agg backend)."""

from __future__ import annotations


import numpy as np

from pathdyn.numerics.plotting import pyplot, save_figure

__all__ = ["plot_width_reports", "plot_concentration"]


def plot_width_reports(reports, path, titles=None) -> None:
    """Error against width (top row) and ``K(t)`` of one network against the theory (bottom row).

    Parameters
    ----------
    reports : sequence of WidthScalingReport
    path : str or Path
        Output image (format from the suffix, e.g. ``.png``).
    titles : sequence of str, optional
    """
    plt = pyplot()
    n = len(reports)
    fig, axes = plt.subplots(2, n, figsize=(4.2 * n, 7.2), squeeze=False)
    for k, report in enumerate(reports):
        ax = axes[0, k]
        widths = np.asarray(report.widths, dtype=float)
        for j in range(report.errors.shape[1]):
            ax.loglog(widths, report.errors[:, j], "o", color="C0", alpha=0.5, ms=4, label="per seed" if j == 0 else None)
        ax.loglog(widths, report.median_errors, "-", color="C0", label="median")
        if np.isfinite(report.slope):
            from pathdyn.validation.sweep import fit_slope

            _, _, intercept = fit_slope(report.widths, report.errors)
            ax.loglog(widths, np.exp(intercept) * widths**report.slope, "--", color="C1",
                      label=f"fit slope {report.slope:.2f} [{report.slope_ci[0]:.2f}, {report.slope_ci[1]:.2f}]")
        if report.lr_floor:
            ax.axhline(report.lr_floor, color="gray", ls=":", label=f"O(eta) floor {report.lr_floor:.1e}")
        ax.set_xlabel("hidden width N")
        ax.set_ylabel("max |K_GD - K_theory| / S_1")
        title = titles[k] if titles else f"depths {report.depths}, {report.init}, {report.theory}"
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
        ax.grid(True, which="both", alpha=0.3)
        ax = axes[1, k]
        example = report.example
        if example is not None:
            t = np.asarray(example["t"])
            K_gd = np.asarray(example["K_gd"])
            K_th = np.asarray(example["K_theory"])
            for a in range(K_gd.shape[1]):
                for m in range(K_gd.shape[2]):
                    color = f"C{m}"
                    style = "-" if a == 0 else "-."
                    ax.plot(t, K_gd[:, a, m], style, color=color, lw=2.2, alpha=0.45)
                    ax.plot(t, K_th[:, a, m], ":", color="k", lw=1.0)
            ax.plot([], [], "-", color="gray", lw=2.2, alpha=0.45, label="GD, pathway 1")
            ax.plot([], [], "-.", color="gray", lw=2.2, alpha=0.45, label="GD, pathway 2")
            ax.plot([], [], ":", color="k", label=f"{report.theory} theory")
            ax.set_title(f"N = {example['width']}, seed {example['seed']}: K_a,alpha(t)", fontsize=9)
            ax.set_xlabel("t = eta * step")
            ax.set_ylabel("K")
            ax.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)


def plot_concentration(result, path) -> None:
    """Mean dominant-pathway fraction with its confidence interval against depth, per activation."""
    plt = pyplot()
    depths = np.asarray(result["depths"])
    fig, axes = plt.subplots(1, 2 if result.get("race") else 1, figsize=(10 if result.get("race") else 5.5, 4), squeeze=False)
    ax = axes[0, 0]
    for k, (activation, means) in enumerate(result["dominant_fraction"].items()):
        means = np.asarray(means, dtype=float)
        ci = np.asarray(result["ci"][activation], dtype=float)
        ax.errorbar(depths + 0.06 * (k - 1), means, yerr=[means - ci[:, 0], ci[:, 1] - means], fmt="o-",
                    capsize=3, label=activation)
    ax.set_xlabel("depth D of both pathways")
    ax.set_ylabel("fraction of K in the dominant pathway")
    ax.set_ylim(0.45, 1.02)
    ax.set_title(f"concentration ({result['config']['seeds']} seeds, {result['config']['confidence']:.0%} CI)", fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(True, alpha=0.3)
    if result.get("race"):
        ax = axes[0, 1]
        race = result["race"]
        ax.plot(depths, race["winner_agreement"], "o-", label="race names the winning pathway")
        ax.plot(depths, race["predicted_fraction_mean"], "s--", label="race: mean dominant fraction")
        ax.plot(depths, result["dominant_fraction"]["linear"], "^:", label="linear GD: mean dominant fraction")
        ax.set_xlabel("depth D")
        ax.set_ylim(0.45, 1.02)
        ax.set_title("race oracle from each network's own initial state", fontsize=9)
        ax.legend(fontsize=8)
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
