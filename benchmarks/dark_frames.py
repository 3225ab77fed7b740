# This file is part of ts_calibrations.
#
# Developed for the Vera C. Rubin Observatory Telescope and Site Systems.
# This product includes software developed by the LSST Project
# (https://www.lsst.org).
# See the COPYRIGHT file at the top-level directory of this distribution
# for details of code ownership.
#
# This program is free software: you can redistribute it and/or modify
# it under the terms of the GNU General Public License as published by
# the Free Software Foundation, either version 3 of the License, or
# (at your option) any later version.
#
# This program is distributed in the hope that it will be useful,
# but WITHOUT ANY WARRANTY; without even the implied warranty of
# MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
# GNU General Public License for more details.
#
# You should have received a copy of the GNU General Public License
# along with this program.  If not, see <https://www.gnu.org/licenses/>.

"""Simulated darks against the accuracy plan's dark-current error, without pipelines.

``python benchmarks/dark_frames.py [--instrument LSSTCam] [--detector 16]
[--geometry full|reduced] [--seed 1] [--frames 100] [--first-seq 1000]
[--dark-time T] [--block 5] [--json OUT]``

Simulates ``--frames`` darks of one detector straight from the simulator
(`lsst.ts.calibrations.sim.image_model.ImageModel`: no repository, no
ISR), sequence numbers from ``--first-seq``. Each amplifier of each dark is
corrected with the per-row median of its serial overscan (the columns the
ISR uses) and for the fixed column offsets of the bias structure (what the
combined bias removes in the pipelines), and measured as the clipped mean of
its data pixels, the truth's defects left out, less the truth's dark charge (D × t, in electrons at the
amplifier's true gain). Printed per amplifier:

- the mean error over all frames and its pull (error / standard error): is
  the simulated dark charge what the truth says;
- the frame-to-frame scatter against the plan's error of one frame
  (`_accuracy_plan.AccuracyPlan.dark_frame_sigma`): is the plan's noise
  model the simulator's;
- the means of consecutive blocks of ``--block`` frames (the accuracy
  benchmark's number of darks): their variance against the plan's, and how
  many lie beyond 3σ.

This separates the simulator and the plan from the pipelines when the
accuracy benchmark finds a dark current off: the accuracy benchmark's darks
are its sequence numbers ``n_bias + 1`` to ``n_bias + n_dark`` (21 to 25 by
default), so ``--first-seq 21 --frames 5 --block 5`` measures its very darks
this way (the same seed, detector and geometry make the same pixels).
"""

__all__ = ["main", "parse_args"]

import argparse
import dataclasses
import json
import math
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _accuracy_lib as lib  # noqa: E402
import _accuracy_plan as planning  # noqa: E402
from accuracy import DAY_OBS, INSTRUMENT_DEFAULTS  # noqa: E402


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse the command line.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`] or `None`
        Arguments; `None` for ``sys.argv[1:]``.

    Returns
    -------
    args : `argparse.Namespace`
        The options.
    """
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--instrument", choices=sorted(INSTRUMENT_DEFAULTS), default="LSSTCam")
    parser.add_argument("--sensor-model", default=None, help="Sensor model (default the instrument's).")
    parser.add_argument(
        "--detector", type=int, default=None, help="Detector id (default the accuracy benchmark's first)."
    )
    parser.add_argument("--geometry", choices=["full", "reduced"], default="full")
    parser.add_argument("--seed", type=int, default=1, help="Seed of the sensor model (default 1).")
    parser.add_argument("--frames", type=int, default=100, help="Number of darks (default 100).")
    parser.add_argument(
        "--first-seq", type=int, default=1000, help="seq_num of the first dark (default 1000)."
    )
    parser.add_argument(
        "--dark-time", type=float, default=None, help="Dark time, s (default the accuracy plan's)."
    )
    parser.add_argument("--block", type=int, default=5, help="Frames per block (default 5).")
    parser.add_argument("--json", type=Path, default=None, help="Write the figures to this file.")
    args = parser.parse_args(argv)
    for name in ("frames", "block"):
        if getattr(args, name) < 1:
            parser.error(f"--{name}={getattr(args, name)} must be >= 1.")
    if args.first_seq < 1:
        parser.error(f"--first-seq={args.first_seq} must be >= 1.")
    if args.dark_time is not None and args.dark_time <= 0:
        parser.error(f"--dark-time={args.dark_time} must be > 0 s.")
    if args.detector is None:
        args.detector = int(INSTRUMENT_DEFAULTS[args.instrument][0].split(",")[0])
    return args


def measure(args: argparse.Namespace) -> dict:
    """Simulate and measure the darks; return every figure.

    Parameters
    ----------
    args : `argparse.Namespace`
        The options (`parse_args`).

    Returns
    -------
    figures : `dict`
        ``plan`` (dark time, expected errors), ``amps`` (per amplifier) and
        ``pooled`` figures, JSON-ready.
    """
    from lsst.ts.calibrations.repo.camera import get_geometry
    from lsst.ts.calibrations.sim.image_model import ImageModel
    from lsst.ts.calibrations.sim.sensor_model import SensorModel

    model = SensorModel.from_yaml(args.sensor_model, args.seed, instrument=args.instrument)
    info = model.detector(args.detector)
    geometry = get_geometry(args.geometry, info.vendor)
    images = ImageModel(model, get_geometry(args.geometry))
    noise = max(amp.nominal_read_noise for amp in info.amps)
    flat_filter = INSTRUMENT_DEFAULTS[args.instrument][1]
    plan = planning.make_plan(
        geometry,
        [info.id],
        flat_filter=flat_filter,
        flat_flux=float(model.parameters.get("flat.flux")[flat_filter]),
        planning_read_noise=noise,
        n_dark=args.block,
        instrument=args.instrument,
    )
    if args.dark_time is not None:
        plan = dataclasses.replace(plan, dark_time=args.dark_time)
    t = plan.dark_time
    truth = model.detector_truth(info.id, geometry, DAY_OBS)
    masks = info.split(truth.defect_mask(), geometry)
    # The fixed offsets of the data columns (zero mean per amplifier) are the
    # combined bias's to remove; without a bias frame they are taken from the
    # model, so that leaving out the defects' columns does not shift the mean.
    _, column_offsets = model.bias_structure(info.id, geometry)
    names = [amp.name for amp in info.amps]
    errors = np.zeros((args.frames, len(names)))
    start = time.monotonic()
    for k in range(args.frames):
        raw = images.make_raw(
            info.id, image_type="DARK", exposure_time=t, day_obs=DAY_OBS, seq_num=args.first_seq + k
        )
        for j, name in enumerate(names):
            pixels = raw.amp_data[name].astype(np.float64)
            overscan = pixels[geometry.serial_overscan_slice][:, plan.overscan_skip :]
            data = pixels[geometry.data_slice] - np.median(overscan, axis=1, keepdims=True)
            data -= column_offsets[j]
            data[masks[name]] = np.nan
            amp = truth.amps[name]
            errors[k, j] = lib.clipped_mean(data) * amp.gain - amp.dark_current * t
    seconds = time.monotonic() - start

    amps = {}
    n_blocks = args.frames // args.block
    for j, name in enumerate(names):
        amp = truth.amps[name]
        frame_sigma = plan.dark_frame_sigma(amp.dark_current, amp.read_noise, amp.gain)
        values = errors[:, j]
        scatter = float(values.std(ddof=1)) if args.frames > 1 else math.nan
        blocks = values[: n_blocks * args.block].reshape(n_blocks, args.block).mean(axis=1)
        block_sigma = frame_sigma / math.sqrt(args.block)
        amps[name] = {
            "dark_current": amp.dark_current,
            "mean_error": float(values.mean()),
            "mean_pull": float(values.mean() / (frame_sigma / math.sqrt(args.frames))),
            "frame_scatter": scatter,
            "frame_sigma_plan": frame_sigma,
            "block_means": [float(b) for b in blocks],
            "block_pulls": [float(b / block_sigma) for b in blocks],
        }
    pulls = np.array([p for a in amps.values() for p in a["block_pulls"]])
    ratios = np.array([a["frame_scatter"] / a["frame_sigma_plan"] for a in amps.values()])
    mean_pulls = np.array([a["mean_pull"] for a in amps.values()])
    return {
        "arguments": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "detector": info.name,
        "vendor": info.vendor,
        "plan": {"dark_time": t, "overscan_columns_used": plan.n_overscan_used, "n_pixels": plan.n_pixels},
        "simulate_and_measure_seconds": seconds,
        "amps": amps,
        "pooled": {
            "rms_mean_pull": float(np.sqrt(np.mean(mean_pulls**2))),
            "frame_scatter_over_plan_median": float(np.median(ratios)) if args.frames > 1 else math.nan,
            "frame_scatter_over_plan_pooled": float(np.sqrt(np.mean(ratios**2)))
            if args.frames > 1
            else math.nan,
            "blocks": int(pulls.size),
            "block_pull_rms": float(np.sqrt(np.mean(pulls**2))) if pulls.size else math.nan,
            "blocks_beyond_3_sigma": int(np.count_nonzero(np.abs(pulls) > 3.0)),
        },
    }


def report(figures: dict) -> None:
    """Print the figures as a table.

    Parameters
    ----------
    figures : `dict`
        What `measure` returned.
    """
    args = figures["arguments"]
    plan = figures["plan"]
    print(
        f"{args['instrument']} detector {args['detector']} ({figures['detector']}, {figures['vendor']}), "
        f"{args['geometry']} geometry, seed {args['seed']}: {args['frames']} darks of "
        f"{plan['dark_time']:g} s "
        f"from seq_num {args['first_seq']}, {plan['overscan_columns_used']} overscan columns used; "
        f"simulated and measured in {figures['simulate_and_measure_seconds']:.1f} s"
    )
    print("errors in e- per pixel over the dark time (truth: D t)")
    print(
        f"  {'amp':4} {'D e-/s':>9} {'mean err':>9} {'pull':>6} {'scatter':>8} {'plan':>8} {'ratio':>6}"
        "  blocks (pulls)"
    )
    for name, amp in figures["amps"].items():
        blocks = " ".join(f"{p:+.2f}" for p in amp["block_pulls"][:8])
        more = " ..." if len(amp["block_pulls"]) > 8 else ""
        print(
            f"  {name:4} {amp['dark_current']:9.5f} {amp['mean_error']:+9.4f} {amp['mean_pull']:+6.2f} "
            f"{amp['frame_scatter']:8.4f} {amp['frame_sigma_plan']:8.4f} "
            f"{amp['frame_scatter'] / amp['frame_sigma_plan']:6.2f}  {blocks}{more}"
        )
    pooled = figures["pooled"]
    print(
        f"pooled: rms pull of the amplifiers' mean errors {pooled['rms_mean_pull']:.2f} (1 expected); "
        f"frame scatter / plan: median {pooled['frame_scatter_over_plan_median']:.3f}, "
        f"rms {pooled['frame_scatter_over_plan_pooled']:.3f}; "
        f"{pooled['blocks']} blocks of {args['block']}: rms pull {pooled['block_pull_rms']:.2f}, "
        f"{pooled['blocks_beyond_3_sigma']} beyond 3 sigma "
        f"({0.0027 * pooled['blocks']:.2f} expected by chance)"
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark.

    Parameters
    ----------
    argv : `~collections.abc.Sequence` [`str`] or `None`
        Command-line arguments.

    Returns
    -------
    status : `int`
        Always 0 (the figures are the result).
    """
    args = parse_args(argv)
    figures = measure(args)
    report(figures)
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
