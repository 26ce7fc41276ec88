"""3-D drawing of a :class:`jaxgeci.Scope`: objective, focal plane(s), field of view and ROIs
(Cleo's ``Scope.add_self_to_plot``). matplotlib is imported lazily (extra ``[examples]``)."""

from __future__ import annotations

import numpy as np


def _plane_basis(n: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two unit vectors spanning the plane orthogonal to the unit vector ``n``."""
    helper = np.array([1.0, 0.0, 0.0]) if abs(n[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(n, helper)
    u /= np.linalg.norm(u)
    return u, np.cross(n, u)


def _unit(axis_scale_unit: float) -> str:
    return {1e-6: "µm", 1e-3: "mm", 1.0: "m"}.get(axis_scale_unit, f"x {axis_scale_unit:g} m")


def add_scope_to_plot(
    scope,
    ax,
    *,
    axis_scale_unit: float = 1e-6,
    color="tab:green",
    roi_color="tab:green",
    roi_size: float = 30.0,
    plane_alpha: float = 0.15,
    label: str | None = "scope",
    show_rois: bool = True,
    show_objective: bool = True,
):
    """Draw ``scope`` on a 3-D axis: the objective (marker) and its viewing direction (arrow
    to the focal-plane centre), each distinct focal plane as a translucent disc of diameter
    ``img_width`` with its outline, and the ROIs at their focus coordinates.

    Args:
        scope: a :class:`jaxgeci.Scope`.
        ax: a matplotlib ``Axes3D`` (``fig.add_subplot(projection="3d")``).
        axis_scale_unit: metres per axis unit (default 1e-6: axes in µm).
        color: colour of the objective, arrow and planes.
        roi_color: colour of the ROI markers (or one colour per ROI).
        roi_size: ROI marker size (points²).
        plane_alpha: transparency of the plane discs.
        label: legend label of the ROIs (the objective and plane get their own entries);
            ``None`` for no legend entries.
        show_rois, show_objective: toggle parts of the drawing.

    Returns:
        the list of matplotlib artists created.
    """
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    k = 1.0 / axis_scale_unit
    L = np.asarray(scope.location, dtype=float)
    n = np.asarray(scope.direction, dtype=float)
    r = float(scope.img_width) / 2
    u, v = _plane_basis(n)
    depths = []
    for inj in scope.injections:
        if inj.focus_depth is not None and inj.focus_depth not in depths:
            depths.append(inj.focus_depth)
    if not depths and scope.focus_depth is not None and float(scope.focus_depth) > 0:
        depths.append(float(scope.focus_depth))
    artists = []
    theta = np.linspace(0, 2 * np.pi, 73)
    for i, f in enumerate(depths):
        c = L + n * f
        ring = c[None, :] + r * (np.cos(theta)[:, None] * u[None, :] + np.sin(theta)[:, None] * v[None, :])
        ring = ring * k
        poly = Poly3DCollection([ring], alpha=plane_alpha, facecolor=color, edgecolor="none")
        ax.add_collection3d(poly)
        (line,) = ax.plot(
            ring[:, 0],
            ring[:, 1],
            ring[:, 2],
            color=color,
            lw=1.0,
            label=(
                f"focal plane{'s' if len(depths) > 1 else ''} (Ø {2 * r * k:.0f} {_unit(axis_scale_unit)})"
                if (label and i == 0)
                else None
            ),
        )
        artists += [poly, line]
    if show_objective:
        tip = L + n * (max(depths) if depths else r)
        (obj,) = ax.plot(
            *(L * k)[:, None],
            marker="v" if n[2] >= 0 else "^",
            ms=10,
            color=color,
            ls="none",
            label="objective" if label else None,
        )
        q = ax.quiver(*(L * k), *((tip - L) * k), color=color, arrow_length_ratio=0.08, lw=1.5)
        artists += [obj, q]
    if show_rois and scope.n:
        fc = np.asarray(scope.focus_coords, dtype=float) * k
        sc = ax.scatter(
            fc[:, 0],
            fc[:, 1],
            fc[:, 2],
            s=roi_size,
            c=roi_color,
            edgecolors="k",
            linewidths=0.4,
            depthshade=False,
            label=(f"{label} ROIs (n={scope.n})" if label else None),
        )
        artists.append(sc)
    return artists


def plot_scope(
    scope,
    coords_by_population=None,
    *,
    ax=None,
    axis_scale_unit: float = 1e-6,
    neuron_color="0.6",
    neuron_size: float = 4.0,
    **kwargs,
):
    """A 3-D figure of all neurons (grey), the scope and its ROIs.

    Args:
        scope: a :class:`jaxgeci.Scope`.
        coords_by_population: ``{population: (neurons, 3)}`` positions (m) to draw as
            background neurons (optional; a bare array is accepted).
        ax: an existing 3-D axis (default: a new figure).
        axis_scale_unit: metres per axis unit (1e-6: µm).
        neuron_color, neuron_size: style of the background neurons.
        **kwargs: passed to :func:`add_scope_to_plot`.

    Returns:
        ``(fig, ax)``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        fig = plt.figure(figsize=(6, 5))
        ax = fig.add_subplot(projection="3d")
    else:
        fig = ax.figure
    k = 1.0 / axis_scale_unit
    if coords_by_population is not None:
        if not isinstance(coords_by_population, dict):
            coords_by_population = {"neurons": coords_by_population}
        for i, (name, xyz) in enumerate(coords_by_population.items()):
            xyz = np.asarray(xyz, dtype=float) * k
            ax.scatter(
                xyz[:, 0],
                xyz[:, 1],
                xyz[:, 2],
                s=neuron_size,
                c=neuron_color,
                alpha=0.5,
                depthshade=False,
                label=f"{name} (n={xyz.shape[0]})",
            )
    add_scope_to_plot(scope, ax, axis_scale_unit=axis_scale_unit, **kwargs)
    unit = _unit(axis_scale_unit)
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")
    ax.set_zlabel(f"z ({unit})")
    if np.asarray(scope.direction)[2] > 0 and not ax.zaxis_inverted():
        ax.invert_zaxis()  # depth grows downwards, as in the tissue
    return fig, ax
