"""The ``ganstudio`` command: the app by default, and headless ``train``, ``sample``, ``info``.

Mistakes (a wrong argument, an unknown dataset, a missing file) get one line and exit code 2,
never a traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import sys
import time
from pathlib import Path

from ganstudio import __version__

EXIT_USAGE = 2
MAX_SAMPLES = 4096
MAX_TRUNCATION = 2.0
MAX_NPY_ROW = 2**16  # values per row of a --z or --labels file (a latent or a class vector)
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """A mistake in how the command was called: reported in one line, exit code 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ganstudio",
        description="GAN Studio: train, watch and explore Generative Adversarial Networks.",
    )
    parser.add_argument("--version", action="version", version=f"GAN Studio {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser, metavar="COMMAND")

    app = sub.add_parser("app", help="open the desktop app (the default)")
    app.add_argument("path", nargs="?", help="a run folder or checkpoint to open")
    app.add_argument("--compare", nargs="+", metavar="RUN_DIR",
                     help="run folders (or folders of them) to compare side by side")

    explore = sub.add_parser("explore", help="open a generator in the app's latent explorer")
    explore.add_argument("checkpoint", help="a checkpoint (.safetensors, netG.pth, .pt2) or a "
                         "run folder (its latest checkpoint, followed live)")

    train = sub.add_parser(
        "train", help="train headless, writing a run folder the app can open",
        description="Train a GAN headless. Settings come from --config, else from the "
        "dataset's recommended defaults; any option given overrides them.",
    )
    train.add_argument("--config", metavar="FILE", help="a JSON run config (e.g. a config.json)")
    train.add_argument("--dataset", help="built-in dataset name, or a .csv/.npy file of points")
    train.add_argument("--data-file", metavar="FILE", help="the file of the 'points' dataset")
    train.add_argument("--data", metavar="PATH|NAME", help="real data: an image folder, "
                       ".zip/.tar(.gz), IDX or CIFAR files, .npy/.npz, or a catalogue name; "
                       "prepared once into the cache, then streamed from it")
    train.add_argument("--resolution", type=int, metavar="R", help="--data: the side of the "
                       "prepared images (default: the images' own when square and the model "
                       "builds it, else 64)")
    train.add_argument("--crop", choices=("centre", "center", "pad"),
                       help="--data: centre crop to a square (default), or pad to one")
    train.add_argument("--grayscale", action="store_const", const=True, default=None,
                       help="--data: one grey channel (default: grey only when the images are)")
    train.add_argument("--flip", action="store_const", const=True, default=None,
                       help="--data: random left-right flips in training")
    train.add_argument("--model", help="network family: toy, gan2014, dcgan or resnet")
    train.add_argument("--conditional", action=argparse.BooleanOptionalAction, default=None,
                       help="class-conditional G and D (labelled datasets)")
    train.add_argument("--loss", help="minimax, nonsaturating, lsgan, hinge or wgan-gp")
    train.add_argument("--r1", type=float, metavar="GAMMA", help="R1 penalty weight (0: off)")
    train.add_argument("--optimizer", help="adam, sgd or rmsprop")
    train.add_argument("--steps", type=int, help="generator updates in all")
    train.add_argument("--batch-size", type=int)
    train.add_argument("--lr-g", type=float, help="generator learning rate")
    train.add_argument("--lr-d", type=float, help="discriminator learning rate")
    train.add_argument("--d-steps", type=int, help="D updates per G update")
    train.add_argument("--ema", action=argparse.BooleanOptionalAction, default=None,
                       help="keep an EMA copy of G and sample from it")
    train.add_argument("--width", type=float, help="dcgan channel multiplier")
    train.add_argument("--seed", type=int)
    train.add_argument("--device", help="auto, cpu, cuda or mps")
    train.add_argument("--out", metavar="RUN_DIR", help="the run folder to write")
    train.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue from a checkpoint (or the latest one of a run folder)")
    train.add_argument("--sample-every", type=int, metavar="N")
    train.add_argument("--eval-every", type=int, metavar="N")
    train.add_argument("--evals", type=_names, metavar="NAMES",
                       help="evaluations every --eval-every steps, comma-separated: fid, kid, "
                       "pr, dc, classes (image sets), modes (2-D sets); none: no evaluations")
    train.add_argument("--augment", metavar="POLICY",
                       help="DiffAugment before D: any of color,translation,cutout; none: off")
    train.add_argument("--checkpoint-every", type=int, metavar="N")
    train.add_argument("--quiet", action="store_true", help="no progress line")
    train.add_argument("--fork", metavar="RUN_DIR[@STEP]",
                       help="start a new run (--out, or beside the parent) from a run's "
                       "checkpoint at STEP (default: its latest), with the settings changed "
                       "by --set and the options above; the parent is left as it is")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="a setting by its config name, e.g. optim.lr_g=1e-4 (repeatable)")

    runs = sub.add_parser("runs", help="compare run folders")
    runs_sub = runs.add_subparsers(dest="runs_command", required=True, parser_class=_Parser)
    compare = runs_sub.add_parser(
        "compare", help="a table: dataset, model, loss, the settings that differ, status, "
        "steps and the latest value of each metric, one run a line")
    compare.add_argument("runs", nargs="+", metavar="RUN_DIR")
    compare.add_argument("--json", action="store_true", help="print JSON")

    sample = sub.add_parser(
        "sample", help="write samples from a checkpoint: a PNG grid, or raw arrays (.npy)",
        description="Sample a generator. Latents come from --seed, or from --z FILE.npy for "
        "exactly reproducible samples; --out x.npy writes the raw outputs (N × C × H × W "
        "float32 in the generator's own range) instead of a picture.")
    sample.add_argument("checkpoint", help="a checkpoint file or run folder")
    sample.add_argument("--n", type=int, default=None,
                        help="number of samples (default 64, or the rows of --z)")
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--z", metavar="FILE.npy", help="latents to use (N × z_dim float array)")
    sample.add_argument("--labels", metavar="FILE.npy",
                        help="class per sample: N integers, or N × classes class vectors")
    sample.add_argument("--class", dest="klass", metavar="K",
                        help="class index or name for every sample (conditional generators)")
    sample.add_argument("--truncation", type=float, default=1.0, metavar="PSI",
                        help="pull latents towards the mean of the generator's latent space "
                        f"(0 to {MAX_TRUNCATION:g}; 1: off, 0: the mean)")
    sample.add_argument("--out", default=None,
                        help="a .png grid or a .npy of raw samples; an existing file is replaced "
                        "only with --force (default: <checkpoint>_samples.png, or -2, -3... if "
                        "that exists)")
    sample.add_argument("--force", action="store_true", help="replace the --out file if it exists")

    convert = sub.add_parser(
        "convert", help="turn any generator GAN Studio opens into a GAN Studio checkpoint",
        description="Read a generator file once (a StyleGAN pickle, a BigGAN folder, a DCGAN "
        "netG.pth, a GAN Studio checkpoint) and write it as a GAN Studio .safetensors "
        "checkpoint, which opens fast and runs no code.")
    convert.add_argument("source", help="the generator file or folder")
    convert.add_argument("out", help="the .safetensors file to write")
    convert.add_argument("--half", action="store_true", help="store weights as fp16 (half size)")
    convert.add_argument("--force", action="store_true", help="replace OUT if it exists")

    nets = sub.add_parser(
        "networks", help="list or download well-known pretrained generators (StyleGAN, BigGAN)")
    nets_sub = nets.add_subparsers(dest="networks_command", parser_class=_Parser,
                                   metavar="ACTION", required=True)
    nets_sub.add_parser("list", help="name, size, licence and whether it is downloaded")
    net_download = nets_sub.add_parser("download", help="download one into the cache")
    net_download.add_argument("name", help="e.g. stylegan3-t-ffhq-1024 ('networks list')")

    info = sub.add_parser("info", help="describe a checkpoint or run folder")
    info.add_argument("path", help="a checkpoint file or run folder")
    info.add_argument("--json", action="store_true", help="print JSON")

    recipes = sub.add_parser(
        "recipes", help="list or retrain the recipes of the bundled pretrained generators",
        description="The pretrained generators GAN Studio ships are reproducible: each comes "
        "from a named recipe that 'recipes train NAME' trains again.",
    )
    recipes_sub = recipes.add_subparsers(dest="recipes_command", parser_class=_Parser,
                                         metavar="ACTION", required=True)
    recipes_sub.add_parser("list", help="name, steps and output file of every recipe")
    recipe_train = recipes_sub.add_parser(
        "train", help="train a recipe and write its fp16 generator file",
    )
    recipe_train.add_argument("name", help="the recipe (see 'ganstudio recipes list')")
    recipe_train.add_argument("--out", metavar="DIR",
                              help="folder for NAME.safetensors (default: the bundled folder)")
    recipe_train.add_argument("--run-dir", metavar="DIR",
                              help="keep the run folder here (default: a temporary one)")
    recipe_train.add_argument("--quiet", action="store_true", help="no progress line")

    data = sub.add_parser("data", help="inspect, download and prepare real datasets")
    data_sub = data.add_subparsers(dest="data_command", parser_class=_Parser, metavar="ACTION",
                                   required=True)
    inspect = data_sub.add_parser("inspect", help="what a folder, archive or dataset file holds")
    inspect.add_argument("path", help="an image folder, .zip/.tar(.gz), IDX or CIFAR files, "
                         ".npy/.npz, or a catalogue name")
    inspect.add_argument("--json", action="store_true", help="print JSON")
    download = data_sub.add_parser("download", help="download a set of the catalogue")
    download.add_argument("name", help="e.g. mnist, fashion-mnist, cifar10 ('data list')")
    prep = data_sub.add_parser("prepare", help="decode a set once into the cache for training")
    prep.add_argument("path", help="what 'data inspect' takes")
    prep.add_argument("--resolution", type=int, required=True, metavar="R",
                      help="square size in pixels, 16 to 256")
    prep.add_argument("--grayscale", action="store_const", const=True, default=None,
                      help="one grey channel (default: grey only when the images are)")
    prep.add_argument("--crop", choices=("centre", "center", "pad"), default="centre",
                      help="centre crop to a square (default), or pad to one")
    prep.add_argument("--flip", action="store_true", help="train with random left-right flips")
    prep.add_argument("--split", choices=("train", "test", "all"), default="train",
                      help="of the standard sets (IDX, CIFAR); default train")
    data_sub.add_parser("list", help="built-in, catalogue, installed and prepared sets")
    data_sub.add_parser("clear", help="delete every prepared set from the cache")

    from ganstudio.cli_eval import add_parsers

    add_parsers(sub, _Parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    from ganstudio.engine.errors import GanStudioError, printable

    parser = build_parser()
    try:
        if not argv or argv[0] not in {"app", "explore", "train", "sample", "info", "recipes",
                                      "data", "eval", "classifiers", "convert", "networks", "runs",
                                      "-h", "--help",
                                      "--version"}:
            argv = ["app", *argv]
        args = parser.parse_args(argv)
        from ganstudio.cli_eval import cmd_classifiers, cmd_eval

        handler = {"app": _cmd_app, "explore": _cmd_explore, "train": _cmd_train,
                   "sample": _cmd_sample,
                   "info": _cmd_info, "recipes": _cmd_recipes, "data": _cmd_data,
                   "eval": cmd_eval, "classifiers": cmd_classifiers,
                   "convert": _cmd_convert, "networks": _cmd_networks,
                   "runs": _cmd_runs}[args.command]
        return handler(args)
    except UsageError as e:
        print(printable(f"{e}"), file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # the reader went away (… | head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except GanStudioError as e:
        text = " ".join(str(e).split())
        print(printable(f"ganstudio: error: {text}"), file=sys.stderr)
        return EXIT_USAGE


# --- app ------------------------------------------------------------------------------------


def _cmd_app(args) -> int:
    if args.path is not None and not Path(args.path).exists():
        raise UsageError(f"ganstudio: {args.path} does not exist")
    from ganstudio.app.controllers.compare_controller import runs_in
    from ganstudio.app.main import run_app

    compare = []
    for path in args.compare or ():
        if not Path(path).is_dir():
            raise UsageError(f"ganstudio: {path} is not a folder; --compare takes run folders")
        compare += runs_in(path) or [Path(path)]

    return run_app(open_path=args.path, compare=compare)


def _cmd_explore(args) -> int:
    path = Path(args.checkpoint)
    if not path.exists():
        raise UsageError(f"ganstudio explore: {path} does not exist")
    from ganstudio.engine.formats import load_generator

    load_generator(path)  # a file that cannot be opened fails here, in one line
    from ganstudio.app.main import run_app

    return run_app(open_path=path, explore=True)


# --- train ----------------------------------------------------------------------------------


def train_config(args):
    """The RunConfig a ``train`` command line asks for: file or defaults, then overrides."""
    from ganstudio.engine.checkpoint import read_training_state, resolve_checkpoint, state_path_for
    from ganstudio.engine.config import RunConfig, defaults_for, with_loss
    from ganstudio.engine.data import DATASETS
    from ganstudio.engine.errors import ConfigError

    dataset, data_file = args.dataset, args.data_file
    real = _real_data_args(args)
    if dataset and Path(dataset).suffix.lower() in (".csv", ".npy", ".txt"):
        if data_file:
            raise UsageError(f"ganstudio train: --dataset {dataset} is a file already; drop "
                             "--data-file")
        dataset, data_file = "points", dataset
    if dataset and dataset not in DATASETS:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")

    if args.resume:
        if not Path(args.resume).exists():
            raise ConfigError(f"Checkpoint {args.resume} does not exist.")
        state_file = state_path_for(resolve_checkpoint(args.resume))
        if not state_file.is_file():
            raise ConfigError(f"{state_file} is missing, so there is nothing to resume from.")
        state, _ = read_training_state(state_file)
        cfg = RunConfig.from_dict(state["config"])
    elif args.config:
        cfg = RunConfig.from_json_file(args.config)
    elif real is not None:
        cfg = defaults_for(real, args.model)
    else:
        cfg = defaults_for(dataset or "ring8")
    if dataset and (dataset != cfg.data.name or cfg.data.is_real):
        cfg = _with_dataset(cfg, dataset)
    if real is not None and real != cfg.data:
        cfg = _with_dataset(cfg, real, args.model or cfg.model.family)
    if data_file:
        if cfg.data.name != "points":
            raise UsageError(
                f"ganstudio train: --data-file is the file of the points dataset, and this run "
                f"trains on {cfg.data.name}; use --dataset points --data-file {data_file}"
            )
        cfg.data.path = str(Path(data_file).resolve())
    if args.model and args.model != cfg.model.family:
        cfg.model.family, cfg.model.z_dim = args.model, None
    if args.loss and args.loss != cfg.loss.name:  # the loss's published optimiser settings
        given = {dotted for dotted, value in (
            ("optim.name", args.optimizer), ("optim.lr_g", args.lr_g),
            ("optim.lr_d", args.lr_d), ("optim.d_steps", args.d_steps)) if value is not None}
        cfg = with_loss(cfg, args.loss, given)
    if args.width is not None and cfg.model.family != "dcgan":
        raise UsageError(
            f"ganstudio train: --width sets the channels of dcgan, not of {cfg.model.family} "
            "(gan2014 has the fixed layer sizes of the 2014 paper; toy is sized by model.hidden "
            "and model.depth in a --config)"
        )
    overrides = _option_settings(args)
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        setattr(getattr(cfg, section), key, value)
    return cfg


def _option_settings(args) -> dict:
    """The settings given by train's options and --set (a --set wins over an option)."""
    from ganstudio.engine.forks import parse_overrides

    options = {
        "model.conditional": args.conditional, "model.width": args.width,
        "loss.name": args.loss, "loss.r1_gamma": args.r1, "optim.name": args.optimizer,
        "train.steps": args.steps, "train.batch_size": args.batch_size,
        "optim.lr_g": args.lr_g, "optim.lr_d": args.lr_d, "optim.d_steps": args.d_steps,
        "train.ema": args.ema, "train.seed": args.seed, "train.device": args.device,
        "train.sample_every": args.sample_every, "train.eval_every": args.eval_every,
        "train.checkpoint_every": args.checkpoint_every, "train.evals": args.evals,
        "train.augment": None if args.augment is None else
        ("" if args.augment == "none" else args.augment),
    }
    given = {dotted: value for dotted, value in options.items() if value is not None}
    return {**given, **parse_overrides(args.set)}


def _names(text: str) -> list[str]:
    """A comma-separated list of names (``none``: the empty list)."""
    return [] if text.strip() == "none" else [n.strip() for n in text.split(",") if n.strip()]


def _real_data_args(args):
    """The DataConfig of ``--data`` and its options, or None without ``--data``."""
    options = {"--resolution": args.resolution, "--crop": args.crop,
               "--grayscale": args.grayscale, "--flip": args.flip}
    if args.data is None:
        given = [name for name, value in options.items() if value is not None]
        if given:
            raise UsageError(f"ganstudio train: {given[0]} prepares real data; add --data PATH")
        return None
    for other, value in (("--dataset", args.dataset), ("--data-file", args.data_file),
                         ("--resume", args.resume)):
        if value:
            raise UsageError(f"ganstudio train: --data and {other} both say what to train on "
                             + ("(a resumed run keeps its data); drop --data" if other ==
                                "--resume" else "; give one of them"))
    from ganstudio.engine.data.batches import real_data, source_side
    from ganstudio.engine.nets import FAMILIES

    resolution = args.resolution
    if resolution is None:
        family = FAMILIES.get(args.model or "dcgan")
        side = source_side(args.data)
        fits = side is not None and (family is None or not family.image_sizes
                                     or side in family.image_sizes)
        resolution = side if fits else 64
    return real_data(args.data, resolution, crop=args.crop or "centre",
                     grayscale=args.grayscale, flip=bool(args.flip))


def _with_dataset(cfg, dataset, family: str | None = None):
    """Switch dataset: take that dataset's defaults for everything the user did not fix."""
    from ganstudio.engine.config import defaults_for

    fresh = defaults_for(dataset, family)
    fresh.loss, fresh.train.seed, fresh.train.device = cfg.loss, cfg.train.seed, cfg.train.device
    return fresh


def _cmd_train(args) -> int:
    from ganstudio.engine.config import validate
    from ganstudio.engine.errors import ConfigError
    from ganstudio.engine.runs import new_run_dir

    if args.fork:
        return _cmd_fork(args)
    cfg = validate(train_config(args))
    from ganstudio.engine.distributed import from_environment

    if not from_environment().leader:  # under torchrun, rank 0 writes and prints
        return _train_follower(cfg, args)
    if cfg.data.is_real and not _prepare_for_training(cfg.data, args.quiet):
        return EXIT_INTERRUPTED
    if args.out:
        run_dir = Path(args.out)
        if (run_dir / "config.json").exists() and not args.resume:
            raise ConfigError(
                f"{run_dir} already holds a run; pick a new --out folder, or add --resume "
                f"{run_dir} to continue it."
            )
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise UsageError(f"ganstudio train: cannot make the run folder {run_dir} "
                             f"({e.strerror or e})") from None
    elif args.resume:
        run_dir = _run_dir_of(Path(args.resume))
    else:
        run_dir = new_run_dir(Path("runs"), cfg)

    from ganstudio.engine.trainer import Trainer

    trainer = Trainer(cfg, run_dir=run_dir, resume=args.resume)
    return _train_with_progress(trainer, run_dir, args.quiet)


# Options that choose a run's data, networks or starting point: a fork takes its parent's.
_NOT_FOR_FORKS = ("config", "dataset", "data_file", "data", "resolution", "crop", "grayscale",
                  "flip", "model", "conditional", "width", "resume")


def _cmd_fork(args) -> int:
    """train --fork RUN_DIR[@STEP]: a new run from a run's checkpoint with changed settings."""
    from ganstudio.engine import forks
    from ganstudio.engine.runs import new_run_dir

    for name in _NOT_FOR_FORKS:
        if getattr(args, name) is not None:
            option = "--" + name.replace("_", "-")
            raise UsageError(f"ganstudio train: {option} cannot be given with --fork: a fork "
                             "keeps its parent's data and networks (change settings with --set)")
    parent, step = forks.parse_target(args.fork)
    plan = forks.plan_fork(parent, step, _option_settings(args))
    run_dir = Path(args.out) if args.out else new_run_dir(plan.parent.parent, plan.config)
    trainer = forks.fork(plan.parent, plan.step, _option_settings(args), run_dir)
    changed = ", ".join(f"{k}={v}" for k, v in plan.changed.items()) or "nothing changed"
    if not args.quiet:
        print(f"Forking {plan.parent} at step {plan.step} ({changed})", file=sys.stderr)
    return _train_with_progress(trainer, run_dir, args.quiet)


def _train_with_progress(trainer, run_dir: Path, quiet: bool) -> int:
    """Run a trainer in this process with a progress line; Ctrl-C stops it with a final
    checkpoint (twice: at once)."""
    progress = _Progress(quiet=quiet)
    interrupted = False

    def on_sigint(signum, frame):
        nonlocal interrupted
        if interrupted:  # a second Ctrl-C: leave now
            signal.signal(signal.SIGINT, signal.default_int_handler)
            raise KeyboardInterrupt
        interrupted = True
        progress.message("Stopping: saving a final checkpoint (Ctrl-C again to quit at once)…")
        trainer.stop()

    previous = signal.signal(signal.SIGINT, on_sigint)
    failed = False
    try:
        for event in trainer.run():
            if progress.show(event) == "nonfinite":
                failed = True
                trainer.stop()
    except KeyboardInterrupt:
        progress.message("Interrupted before the final checkpoint; the last saved one is intact.")
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGINT, previous)
    progress.message(f"Run folder: {run_dir}")
    if failed:
        return 1
    return EXIT_INTERRUPTED if interrupted else 0


def _prepare_for_training(data, quiet: bool) -> bool:
    """Prepare real data (or find it prepared) with a progress line; False when cancelled."""
    from ganstudio.engine.data.batches import prepare_data

    line = _ProgressLine(sys.stderr)
    try:
        prepared = prepare_data(data, progress=None if quiet else line.images)
    except KeyboardInterrupt:
        line.close()
        print("Cancelled while preparing the data; nothing was written.", file=sys.stderr)
        return False
    line.close()
    if not quiet:
        c, h, w = prepared.shape
        print(f"Data: {len(prepared):,} images of {c}×{h}×{w}, {len(prepared.classes)} classes, "
              f"prepared in {prepared.folder}", file=sys.stderr)
    return True


def _train_follower(cfg, args) -> int:
    """A rank other than 0: train in step with the others, silently, writing nothing."""
    from ganstudio.engine.trainer import Trainer

    trainer = Trainer(cfg, resume=args.resume)
    previous = signal.signal(signal.SIGINT, lambda signum, frame: trainer.stop())
    try:
        for event in trainer.run():
            if getattr(event, "kind", None) == "nonfinite":
                trainer.stop()
    finally:
        signal.signal(signal.SIGINT, previous)
    return 0


def _run_dir_of(checkpoint: Path) -> Path:
    if checkpoint.is_dir():
        return checkpoint
    parent = checkpoint.resolve().parent
    return parent.parent if parent.name == "checkpoints" else parent


class _Progress:
    """A live progress line on a terminal; occasional plain lines when output is a file."""

    def __init__(self, quiet: bool = False, stream=None):
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.tty = self.stream.isatty()
        self.total = 0
        self.first_step = 0
        self.last_draw = 0.0
        self.line_open = False

    def message(self, text: str) -> None:
        self._end_line()
        print(text, file=self.stream, flush=True)

    def _end_line(self) -> None:
        if self.line_open:
            self.stream.write("\n")
            self.line_open = False

    def show(self, event) -> str | None:
        from ganstudio.engine import events as ev

        if isinstance(event, ev.StartedEvent):
            self.total, self.first_step = event.total_steps, event.step
            where = f" from step {event.step}" if event.step else ""
            self.message(
                f"Training{where} on {event.device_name}: G {event.params_g:,} parameters, "
                f"D {event.params_d:,}; writing {event.run_dir}"
            )
        elif isinstance(event, ev.StepEvent):
            now = time.monotonic()
            interval = 0.1 if self.tty else 5.0
            if not self.quiet and (now - self.last_draw >= interval or event.step == self.total):
                self.last_draw = now
                self._draw(event)
        elif isinstance(event, ev.EvalEvent) and not self.quiet:
            m = event.metrics
            if event.name == "modes":
                text = (f"{m['modes']}/{m['n_modes']} modes, {m['high_quality']:.1f}% "
                        f"high-quality, reverse KL {m['reverse_kl']:.3f}")
            else:
                text = f"{event.name} " + ", ".join(f"{k} {v:.4g}" for k, v in m.items())
            self.message(f"  step {event.step}: {text}")
        elif isinstance(event, ev.AlertEvent):
            self.message(f"  {event.level}: {event.message}")
            return event.kind
        elif isinstance(event, ev.HyperEvent):
            self.message(f"  step {event.step}: lr_g {event.lr_g:g}, lr_d {event.lr_d:g}, "
                         f"d_steps {event.d_steps}")
        elif isinstance(event, ev.CheckpointEvent) and event.final:
            self.message(f"Final checkpoint: {event.path}")
        elif isinstance(event, ev.DoneEvent):
            verb = "Finished" if event.reason == "finished" else "Stopped"
            self.message(f"{verb} at step {event.step} after {_duration(event.elapsed)}.")
        return None

    def _draw(self, e) -> None:
        remaining = (self.total - e.step) / e.its if e.its > 0 else 0.0
        text = (
            f"step {e.step}/{self.total}  G {e.loss_g:.3f}  D {e.loss_d:.3f}  "
            f"D(x) {e.d_real:.2f}  D(G(z)) {e.d_fake:.2f}  {e.its:.1f} it/s  "
            f"ETA {_duration(remaining)}"
        )
        if self.tty:
            self.stream.write("\r\x1b[2K" + text)
            self.stream.flush()
            self.line_open = True
        else:
            print(text, file=self.stream, flush=True)


def _duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


# --- sample ---------------------------------------------------------------------------------


def _cmd_sample(args) -> int:
    import numpy as np

    from ganstudio.engine.atomic import check_writable
    from ganstudio.engine.errors import printable
    from ganstudio.engine.explore import sample
    from ganstudio.engine.formats import load_generator
    from ganstudio.engine.images import make_grid, render_points, save_png, to_uint8

    psi = args.truncation
    if not math.isfinite(psi) or not 0 <= psi <= MAX_TRUNCATION:
        raise UsageError(f"ganstudio sample: --truncation must be a number from 0 to "
                         f"{MAX_TRUNCATION:g}, not {psi}")
    if args.out is not None:
        out_path = Path(args.out)
        if out_path.is_file() and not out_path.is_symlink() and not args.force:
            raise UsageError(f"ganstudio sample: {out_path} already exists; choose another "
                             "--out, or add --force to replace it")
        check_writable(out_path, replace=args.force)  # never a folder, a device or a link
    generator = load_generator(args.checkpoint)
    z = _latents_file(args.z, generator.z_dim) if args.z else None
    n = args.n if args.n is not None else (len(z) if z is not None else 64)
    if z is not None and n != len(z):
        raise UsageError(f"ganstudio sample: --n {n} but {args.z} holds {len(z)} latents")
    if not 1 <= n <= MAX_SAMPLES:
        raise UsageError(f"ganstudio sample: --n must be 1 to {MAX_SAMPLES}, not {n}")
    labels = _sample_labels(args, generator, n)
    if z is None:
        z = generator.sample_z(n, args.seed, psi)
    out = sample(generator, z, labels, psi)
    path = Path(args.out) if args.out else _free_name(Path(f"{generator.path.stem}_samples.png"))
    if path.suffix.lower() == ".npy":
        import io

        from ganstudio.engine.atomic import atomic_write_bytes

        buffer = io.BytesIO()
        np.save(buffer, out.numpy().astype(np.float32), allow_pickle=False)
        atomic_write_bytes(path, buffer.getvalue(), replace=args.force)
    elif generator.kind == "images":
        save_png(path, make_grid(to_uint8(out, generator.output_range), round(n ** 0.5)),
                 replace=args.force)
    else:
        save_png(path, render_points(out.numpy(), size=512), replace=args.force)
    print(printable(str(path)))
    return 0


def _free_name(path: Path) -> Path:
    """``path``, or the first of ``NAME-2.png``, ``NAME-3.png``... that does not exist yet: the
    default name never replaces a file, as a desktop app's "Save" does not."""
    candidate, n = path, 1
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


def _latents_file(name: str, z_dim: int):
    """The --z file: an (N, z_dim) float array of finite numbers."""
    import numpy as np
    import torch

    array = _npy(name, "--z")
    if array.ndim == 1 and array.shape[0] == z_dim:
        array = array[None]
    if array.ndim != 2 or array.shape[1] != z_dim or not np.issubdtype(array.dtype, np.number):
        raise UsageError(f"ganstudio sample: {name} holds an array of shape "
                         f"{tuple(array.shape)}; this generator takes N × {z_dim} latents")
    array = array.astype(np.float32)
    if not np.isfinite(array).all():
        raise UsageError(f"ganstudio sample: {name} has NaN or infinite latents")
    return torch.from_numpy(array)


def _sample_labels(args, generator, n: int):
    """Labels from --labels, or --class for all, or one class after another."""
    import numpy as np
    import torch

    classes = generator.classes
    if not generator.conditional:
        if args.klass is not None or args.labels:
            raise UsageError(f"ganstudio sample: {generator.path.name} is not "
                             "class-conditional, so --class and --labels do not apply")
        return None
    if args.labels:
        array = _npy(args.labels, "--labels")
        if array.ndim == 1 and np.issubdtype(array.dtype, np.integer):
            if len(array) != n or array.min() < 0 or array.max() >= len(classes):
                raise UsageError(f"ganstudio sample: {args.labels} must hold {n} class numbers "
                                 f"from 0 to {len(classes) - 1}")
            return torch.from_numpy(array.astype(np.int64))
        if array.ndim == 2 and array.shape == (n, len(classes)) and np.issubdtype(
                array.dtype, np.floating) and np.isfinite(array).all():
            if not generator.can_mix_classes():
                raise UsageError(f"ganstudio sample: {generator.path.name} takes class numbers, "
                                 "not class vectors")
            return torch.from_numpy(array.astype(np.float32))
        raise UsageError(
            f"ganstudio sample: {args.labels} holds {array.dtype} of shape "
            f"{tuple(array.shape)}; give {n} integers or an {n} × {len(classes)} float array")
    if args.klass is not None:
        return torch.full((n,), _class_index(args.klass, classes))
    return torch.arange(n) % len(classes)


def _npy(name: str, option: str):
    """A --z or --labels array; its header is checked before anything is read."""
    from ganstudio.engine.errors import ConfigError
    from ganstudio.engine.readers import read_npy

    return read_npy(Path(name), ConfigError, MAX_SAMPLES * MAX_NPY_ROW)


def _class_index(klass: str, classes: tuple[str, ...]) -> int:
    if klass in classes:
        return classes.index(klass)
    if klass.isdigit() and int(klass) < len(classes):
        return int(klass)
    raise UsageError(
        f"ganstudio sample: unknown class {klass!r}; this generator has {', '.join(classes)}"
    )


# --- info -----------------------------------------------------------------------------------


def _cmd_convert(args) -> int:
    from ganstudio.engine.atomic import check_writable
    from ganstudio.engine.convert import convert
    from ganstudio.engine.formats import load_generator

    out = Path(args.out)
    if out.suffix.lower() != ".safetensors":
        raise UsageError(f"ganstudio convert: {args.out} must be a .safetensors file")
    if out.is_file() and not out.is_symlink() and not args.force:
        raise UsageError(f"ganstudio convert: {args.out} exists; choose another name, or add "
                         "--force to replace it")
    check_writable(out, replace=args.force)
    generator = load_generator(args.source)
    path = convert(generator, out, half=args.half, replace=args.force)
    print(path)
    return 0


def _cmd_networks(args) -> int:
    from ganstudio.engine.networks_catalogue import download_network, downloaded_path, networks

    if args.networks_command == "list":
        for entry in networks().values():
            here = downloaded_path(entry.name)
            print(f"{entry.name:30} {entry.title}, {_megabytes(entry.download_bytes)}"
                  f"{'  [downloaded: ' + str(here) + ']' if here else ''}")
            print(f"{'':30} licence: {entry.licence}")
        return 0
    line = _ProgressLine(sys.stderr)
    try:
        path = download_network(args.name, progress=line.bytes)
    except KeyboardInterrupt:
        line.close()
        print("Cancelled; run the same command to resume the download.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        line.close()
    print(path)
    return 0


def describe_path(path: Path) -> dict:
    """What ``ganstudio info`` reports: the config, the step and parameter counts."""
    from ganstudio.engine.checkpoint import (
        read_generator_info,
        read_safetensors_header,
        resolve_checkpoint,
        state_path_for,
    )
    from ganstudio.engine.formats import find_format
    from ganstudio.engine.formats import native as native_format
    from ganstudio.engine.runs import RunFolder

    if not os.path.lexists(path):
        raise UsageError(f"ganstudio info: {path} does not exist")
    out: dict = {"path": str(path)}
    if path.is_dir() and (path / "config.json").exists() and find_format(path) is native_format:
        run = RunFolder(path)
        meta = run.meta()
        steps = [r["step"] for r in run.metrics() if r["type"] == "step"]
        out.update(kind="run", status=run.status(), step=steps[-1] if steps else 0,
                   total_steps=run.config.train.steps, device=meta.get("device_name"),
                   params_g=meta.get("params_g"), params_d=meta.get("params_d"),
                   samples=len(run.samples()), config=run.config.to_dict())
        # a latest.json that is damaged or points out of the run is said here, not skipped
        latest = resolve_checkpoint(path) if (path / "checkpoints" / "latest.json").exists() \
            else None
        out["latest_checkpoint"] = str(latest) if latest is not None and latest.is_file() \
            else None
        return out
    fmt = find_format(path)
    if fmt is native_format:
        info = read_generator_info(path)
        out.update(kind="checkpoint", step=info.step, family=info.meta.get("family"),
                   dataset=info.meta["dataset"]["name"], params_g=info.params)
        state_file = state_path_for(info.path)
        if state_file.is_file():
            shapes, _ = read_safetensors_header(state_file)
            out["params_d"] = sum(
                math.prod(shape) for k, shape in shapes.items()
                if k.startswith("state.discriminator.") and not k.endswith(
                    ("running_mean", "running_var", "num_batches_tracked"))
            )
        else:
            out["params_d"] = None
        out["config"] = info.meta.get("config")
        return out
    generator = fmt.load(path)
    out.update(kind="checkpoint", source=generator.source, family=generator.meta.get("family"),
               z_dim=generator.z_dim, latent_space=generator.latent_space,
               latent_dim=generator.latent_dim, num_ws=generator.num_ws,
               classes=len(generator.classes), dataset=generator.dataset,
               shape=list(generator.shape), params_g=sum(
                   p.numel() for p in generator.module.parameters()), params_d=None)
    return out


def _cmd_runs(args) -> int:
    from ganstudio.engine.runs_table import format_table, runs_table

    table = runs_table(args.runs)
    if args.json:
        print(json.dumps({"columns": table.columns, "rows": table.rows,
                          "settings": table.settings, "metrics": table.metrics}, indent=2))
    else:
        print(format_table(table))
    return 0


def _cmd_info(args) -> int:
    info = describe_path(Path(args.path))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    lines = [f"{info['path']}"]
    if info["kind"] == "run":
        lines.append(f"  run, {info['status']}: step {info['step']} of {info['total_steps']}"
                     + (f" on {info['device']}" if info.get("device") else ""))
        lines.append(f"  samples: {info['samples']}, latest checkpoint: "
                     f"{info['latest_checkpoint'] or 'none yet'}")
    else:
        what = info.get("family") or info.get("source")
        when = f" at step {info['step']}" if "step" in info else ""
        lines.append(f"  checkpoint ({what}){when}"
                     + (f", trained on {info['dataset']}" if info.get("dataset") else ""))
        if info.get("latent_space") == "w":
            lines.append(f"  latents: z {info['z_dim']} → w {info['latent_dim']} × "
                         f"{info['num_ws']} style inputs")
        if info.get("shape"):
            c, h, w = (info["shape"] + [0, 0])[:3]
            lines.append(f"  samples: {w}×{h} {'RGB' if c == 3 else 'grey'}"
                         + (f", {info['classes']} classes" if info.get("classes") else ""))
    params_d = info.get("params_d")
    lines.append(f"  parameters: G {_count(info.get('params_g'))}, D {_count(params_d)}")
    if info.get("config"):
        cfg = info["config"]
        data = cfg["data"]
        where = (f" ({data['source']}, {data['resolution']} px, {data['crop']} crop"
                 f"{', flips' if data['flip'] else ''})") if data.get("source") else ""
        lines.append(f"  data: {data['name']}{where}, model: {cfg['model']['family']}"
                     f"{' (conditional)' if cfg['model']['conditional'] else ''}, "
                     f"loss: {cfg['loss']['name']}, optimiser: {cfg['optim']['name']} "
                     f"(lr G {cfg['optim']['lr_g']:g}, D {cfg['optim']['lr_d']:g}, "
                     f"d_steps {cfg['optim']['d_steps']}), batch {cfg['train']['batch_size']}, "
                     f"EMA {'on' if cfg['train']['ema'] else 'off'}, seed {cfg['train']['seed']}")
    from ganstudio.engine.errors import printable

    print(printable("\n".join(lines)))
    return 0


def _count(n) -> str:
    return f"{n:,}" if isinstance(n, int) else "unknown (no training state)"



# --- recipes --------------------------------------------------------------------------------


def _cmd_recipes(args) -> int:
    from ganstudio.engine.recipes import list_recipes, train_recipe

    if args.recipes_command == "list":
        shipped = _pretrained_folder()
        rows = [("name", "steps", "file", "shipped", "description")]
        for r in list_recipes():
            exists = shipped is not None and (shipped / r.filename).is_file()
            rows.append((r.name, str(r.config.train.steps), r.filename,
                         "yes" if exists else "no", r.description))
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        for row in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)) + "  " + row[4])
        return 0

    progress = _Progress(quiet=args.quiet)
    try:
        path = train_recipe(
            args.name,
            out_dir=Path(args.out) if args.out else None,
            run_dir=Path(args.run_dir) if args.run_dir else None,
            progress=progress.show,
        )
    except KeyboardInterrupt:
        progress.message("Interrupted; no pretrained file was written.")
        return EXIT_INTERRUPTED
    progress.message(f"Pretrained generator: {path}")
    print(path)
    return 0


def _pretrained_folder() -> Path | None:
    from ganstudio.resources import pretrained_dir

    try:
        return pretrained_dir()
    except FileNotFoundError:
        return None


# --- data -----------------------------------------------------------------------------------


def _cmd_data(args) -> int:
    from ganstudio.engine.data.catalogue import resolve_source

    command = args.data_command
    line = _ProgressLine(sys.stderr)
    try:
        if command == "inspect":
            from ganstudio.engine.data.sources import inspect_source

            report = inspect_source(resolve_source(args.path), progress=line.images)
            line.close()
            print(json.dumps(report.to_dict(), indent=2) if args.json else
                  "\n".join(report.lines()))
        elif command == "download":
            from ganstudio.engine.download import download_dataset

            path = download_dataset(args.name, progress=line.bytes)
            line.close()
            print(path)
        elif command == "prepare":
            from ganstudio.engine.data.prepare import PrepareOptions, prepare

            options = PrepareOptions(args.resolution, args.grayscale, args.crop, args.split)
            prepared = prepare(resolve_source(args.path), options, flip=args.flip,
                               progress=line.images)
            line.close()
            skipped = prepared.meta["skipped"]
            for item in skipped["first"]:
                print(f"  skipped: {item['reason']}", file=sys.stderr)
            if skipped["count"] > len(skipped["first"]):
                print(f"  … {skipped['count'] - len(skipped['first']):,} more skipped",
                      file=sys.stderr)
            c, h, w = prepared.shape
            print(f"{prepared.name}: {len(prepared):,} images, {c}×{h}×{w}, "
                  f"{len(prepared.classes)} classes", file=sys.stderr)
            print(prepared.folder)
        elif command == "list":
            print("\n".join(_dataset_listing()))
        else:
            from ganstudio.engine.data.prepare import clear_prepared, prepared_root

            freed = clear_prepared()
            print(f"Cleared {prepared_root()}: {_megabytes(freed)} freed.")
    except KeyboardInterrupt:
        line.close()
        after = {"download": "run the same command to resume it",
                 "prepare": "nothing was written"}.get(command, "stopped")
        print(f"Cancelled; {after}.", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        line.close()
    return 0


class _ProgressLine:
    """One line on stderr, redrawn in place on a terminal at most ten times a second."""

    def __init__(self, stream):
        self.stream, self.tty, self.last, self.open = stream, stream.isatty(), 0.0, False

    def images(self, done: int, total: int) -> None:
        self._draw(done, total, f"{done:,}/{total:,} images")

    def bytes(self, done: int, total: int) -> None:
        self._draw(done, total, f"{_megabytes(done)} of {_megabytes(total) if total else '?'}")

    def _draw(self, done: int, total: int, text: str) -> None:
        now = time.monotonic()
        if now - self.last < (0.1 if self.tty else 5.0) and done < total:
            return
        self.last = now
        percent = f"{100 * done / total:5.1f}%  " if total else ""
        if self.tty:
            self.stream.write(f"\r\x1b[2K{percent}{text}")
            self.stream.flush()
            self.open = True
        else:
            print(f"{percent}{text}", file=self.stream, flush=True)

    def close(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.open = False


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.1f} MB"


def _dataset_listing() -> list[str]:
    from ganstudio.engine.data import DATASETS
    from ganstudio.engine.data.catalogue import catalogue, downloaded_path, installed_path
    from ganstudio.engine.data.prepare import list_prepared, prepared_root

    out = ["Built-in:"]
    out += [f"  {i.name:<15} {i.kind:<7} {i.size or 0:>9,}  {i.description}"
            for i in DATASETS.values() if i.size]
    out.append("Catalogue ('ganstudio data download NAME'):")
    for entry in catalogue().values():
        where = installed_path(entry)
        state = f"installed: {where}" if where else "not downloaded"
        if where is None and downloaded_path(entry) is not None:
            state = f"downloaded: {downloaded_path(entry)}"
        out.append(f"  {entry.name:<15} {_megabytes(entry.download_bytes):>10}  {state}")
    prepared = list_prepared()
    total = sum(p.bytes for p in prepared)
    out.append(f"Prepared ({prepared_root()}, {_megabytes(total)}):")
    out += [f"  {p.name:<40} {p.count:>9,} × {'×'.join(map(str, p.shape))}  "
            f"{_megabytes(p.bytes):>10}  {p.folder}" for p in prepared]
    if not prepared:
        out.append("  none yet ('ganstudio data prepare PATH --resolution R')")
    return out
