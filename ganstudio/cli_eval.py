"""``ganstudio eval`` (image metrics of a generator, or of feature arrays) and
``ganstudio classifiers`` (the bundled classifiers behind the offline feature space)."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

MAX_SAMPLES = 50_000
EXIT_INTERRUPTED = 130


def add_parsers(sub, parser_class) -> None:
    """Add the ``eval`` and ``classifiers`` commands to the ``ganstudio`` subparsers."""
    ev = sub.add_parser(
        "eval", help="image metrics: FID, KID, precision/recall, density/coverage",
        description="Measure a generator against real data, or two feature arrays against "
        "each other. Real-data statistics are cached per dataset and feature space.",
    )
    ev.add_argument("source", nargs="?", metavar="CHECKPOINT|RUN_DIR",
                    help="the generator (a checkpoint, or a run folder's latest)")
    ev.add_argument("--data", metavar="PATH|NAME",
                    help="the real images: a built-in set, a catalogue set, or an image folder, "
                    "archive or dataset file, prepared at the generator's size (default: the "
                    "generator's own data)")
    ev.add_argument("--real", metavar="A.npy", help="real features, an (N, D) .npy array")
    ev.add_argument("--fake", metavar="B.npy", help="generated features, an (N, D) .npy array")
    ev.add_argument("--metrics", help="comma-separated, from fid, kid, pr, dc, classes "
                    "(default: fid,kid,pr,dc); or parzen alone: the Parzen-window "
                    "log-likelihood of Goodfellow et al. (2014) in pixel space, σ chosen on "
                    "half the real images, measured on the other half")
    ev.add_argument("--n", type=int, default=10_000,
                    help="images drawn from the generator and from the dataset "
                    "(default: %(default)s)")
    ev.add_argument("--features", metavar="SPACE",
                    help="inception (the FID standard; default for images), classifier "
                    "(offline, built-in sets) or none (your arrays; default with --real)")
    ev.add_argument("--seed", type=int, default=0, help="seed of the generated samples")
    ev.add_argument("--json", action="store_true", help="print JSON")
    ev.add_argument("--quiet", action="store_true", help="no progress on stderr")

    classifiers = sub.add_parser(
        "classifiers", help="list or retrain the classifiers of the offline feature space")
    actions = classifiers.add_subparsers(dest="classifiers_command", metavar="ACTION",
                                         parser_class=parser_class,
                                         required=True)
    actions.add_parser("list", help="the bundled classifiers and their held-out accuracy")
    train = actions.add_parser("train", help="train a dataset's classifier and write its file")
    train.add_argument("dataset", help="a labelled image dataset: built in (digits, shapes), "
                       "or real (a catalogue name such as fashion-mnist, or a path)")
    train.add_argument("--out", metavar="DIR",
                       help="folder for DATASET.safetensors (default: the bundled folder)")


class _Stages:
    """Progress on stderr: a live percentage on a terminal, one line per stage otherwise."""

    def __init__(self, quiet: bool):
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self.stage = None
        self.started = time.monotonic()

    def __call__(self, stage: str, fraction: float) -> None:
        if self.quiet:
            return
        if stage != self.stage:
            if self.tty and self.stage is not None:
                sys.stderr.write("\n")
            self.stage = stage
            if not self.tty:
                print(f"{stage}…", file=sys.stderr, flush=True)
        if self.tty:
            sys.stderr.write(f"\r\x1b[2K{stage}: {100 * fraction:.0f}%")
            sys.stderr.flush()

    def part(self, stage: str):
        return lambda fraction: self(stage, fraction)

    def done(self) -> None:
        if self.tty and self.stage is not None and not self.quiet:
            sys.stderr.write("\n")
            sys.stderr.flush()


def cmd_eval(args) -> int:
    from ganstudio.engine.errors import ConfigError
    from ganstudio.engine.metrics.evaluation import DEFAULT_METRICS, parse_metrics

    names = [m.strip() for m in (args.metrics or "").split(",") if m.strip()]
    parzen = "parzen" in names
    if parzen and names != ["parzen"]:
        raise ConfigError("--metrics parzen is measured on its own (in pixel space, not in a "
                          "feature space): run it apart from the other metrics")
    metrics = ("parzen",) if parzen else parse_metrics(args.metrics or DEFAULT_METRICS)
    if not 2 <= args.n <= MAX_SAMPLES:
        raise ConfigError(f"--n must be 2 to {MAX_SAMPLES:,}, not {args.n}")
    arrays = args.real is not None or args.fake is not None
    if arrays and args.source is not None:
        raise ConfigError("give either a generator or --real and --fake arrays, not both")
    if not arrays and args.source is None:
        raise ConfigError("give a checkpoint or run folder, or --real A.npy --fake B.npy")
    stages = _Stages(args.quiet)
    started = time.monotonic()
    try:
        if parzen:
            report = _eval_parzen(args, arrays, stages)
        else:
            report = _eval_arrays(args, metrics, stages) if arrays else \
                _eval_generator(args, metrics, stages)
    except KeyboardInterrupt:
        stages.done()
        print("Interrupted; nothing was measured.", file=sys.stderr)
        return EXIT_INTERRUPTED
    stages.done()
    report["seconds"] = round(time.monotonic() - started, 2)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(_report_text(report))
    return 0


def _eval_arrays(args, metrics, stages) -> dict:
    from ganstudio.engine.errors import ConfigError
    from ganstudio.engine.metrics.evaluation import compute_metrics
    from ganstudio.engine.metrics.real_stats import RealStats

    if args.real is None or args.fake is None:
        raise ConfigError("feature arrays need both --real A.npy and --fake B.npy")
    if (args.features or "none") != "none":
        raise ConfigError("--real and --fake are feature arrays: use --features none")
    if args.data is not None:
        raise ConfigError("--data names the real images of a generator; with arrays, "
                          "--real gives the real features")
    real = _load_array(Path(args.real), "--real")
    fake = _load_array(Path(args.fake), "--fake")
    stats = RealStats.from_features(real)
    values = compute_metrics(stats, fake, metrics, seed=args.seed, progress=stages)
    return {"real": args.real, "fake": args.fake, "features": "none",
            "n_real": int(real.shape[0]), "n_fake": int(fake.shape[0]), "metrics": values}


def _load_array(path: Path, option: str):
    import numpy as np

    from ganstudio.engine.errors import ConfigError

    if not path.is_file():
        raise ConfigError(f"{option} {path} does not exist")
    try:
        array = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        text = str(e).splitlines()[0] if str(e) else type(e).__name__
        raise ConfigError(f"{option} {path.name} is not a .npy array of numbers ({text})") \
            from None
    if not isinstance(array, np.ndarray) or array.ndim != 2 or array.dtype.kind not in "fiu":
        shape = getattr(array, "shape", None)
        raise ConfigError(f"{option} {path.name} must hold an (N, D) array of numbers (one "
                          f"feature vector per row), not {shape} of {getattr(array, 'dtype', '')}")
    return array


def _eval_generator(args, metrics, stages) -> dict:
    from ganstudio.engine.data import get_info
    from ganstudio.engine.errors import ConfigError
    from ganstudio.engine.explore import real_data_of
    from ganstudio.engine.formats import load_generator
    from ganstudio.engine.metrics.evaluation import (
        check_image_generator,
        compute_metrics,
        real_data_images,
        real_images,
        sample_generator,
    )
    from ganstudio.engine.metrics.features import feature_extractor
    from ganstudio.engine.metrics.real_stats import real_stats_of_images

    space = args.features or "inception"
    if space == "none":
        raise ConfigError("--features none takes your own arrays: --real A.npy --fake B.npy")
    if not Path(args.source).exists():
        raise ConfigError(f"{args.source} does not exist")
    generator = load_generator(args.source)
    check_image_generator(generator)
    dataset = args.data or generator.dataset
    if dataset is None:
        raise ConfigError(f"{Path(args.source).name} does not say what data it was trained "
                          "on: name the real images with --data")
    real_data = _real_data_for(args.data, generator) if args.data else real_data_of(generator)
    if real_data is not None:
        dataset = real_data.name
    info = get_info(dataset) if real_data is None else None
    if info is not None and tuple(info.shape) != tuple(generator.shape):
        raise ConfigError(f"{dataset} images are {_shape(info.shape)} but the generator "
                          f"draws {_shape(generator.shape)}")
    if space == "inception":
        _fetch_inception_weights(stages)
    extractor = feature_extractor(space, dataset)
    if real_data is None:
        real = real_images(dataset, args.n)
    else:  # the generator's own prepared set
        _, real = real_data_images(real_data, args.n)
    stats = real_stats_of_images(real, extractor, dataset, progress=stages)
    fake_images = sample_generator(generator, args.n, args.seed, stages.part("sampling"))
    fake = extractor.extract(fake_images, stages.part("generated features"))
    values = compute_metrics(stats, fake, metrics, seed=args.seed, progress=stages)
    return {"source": str(args.source), "data": dataset, "features": space,
            "extractor": extractor.identity, "n_real": int(real.shape[0]),
            "n_fake": int(fake_images.shape[0]), "seed": args.seed, "metrics": values}


def _real_data_for(data: str, generator):
    """The real-data settings of ``--data`` (None for a built-in set): prepared at the
    generator's size, grey when the generator draws grey images."""
    from ganstudio.engine.data import DATASETS
    from ganstudio.engine.data.batches import real_data

    if data in DATASETS:
        return None
    channels, height, width = generator.shape
    if height != width:
        from ganstudio.engine.errors import ConfigError

        raise ConfigError(f"the generator draws {height}×{width} images; real data is prepared "
                          "square, so compare it with feature arrays (--real, --fake)")
    return real_data(data, height, grayscale=channels == 1)


def _fetch_inception_weights(stages) -> None:
    """FID's weights, downloaded on first use with a progress line."""
    from ganstudio.engine.errors import WeightsMissingError
    from ganstudio.engine.metrics.inception import (
        download_inception_weights,
        inception_weights_path,
    )

    try:
        inception_weights_path()
    except WeightsMissingError:
        progress = stages.part("downloading FID's Inception-v3 weights")
        download_inception_weights(lambda have, total: progress(have / total if total else 0.0))


# Real images a built-in set's Parzen estimate uses: fresh draws no run trains on, half to
# choose σ, half to measure (the paper: 10,000 validation and 10,000 test images)
PARZEN_REAL = 2000


def _eval_parzen(args, arrays: bool, stages) -> dict:
    """Table 1 of Goodfellow et al. (2014): a Parzen window on the generated samples, σ
    chosen on validation images, the test images' mean log-likelihood (pixels in 0..1)."""
    import numpy as np

    from ganstudio.engine.errors import ConfigError
    from ganstudio.engine.metrics.parzen import parzen_evaluation

    if args.features not in (None, "none"):
        raise ConfigError("--metrics parzen is measured on pixels (or your arrays): leave "
                          "out --features")
    if arrays:
        if args.real is None or args.fake is None:
            raise ConfigError("feature arrays need both --real A.npy and --fake B.npy")
        real = _load_array(Path(args.real), "--real").astype(np.float64)
        fake = _load_array(Path(args.fake), "--fake").astype(np.float64)
        where = {"real": args.real, "fake": args.fake, "features": "none"}
    else:
        from ganstudio.engine.data import DATASETS, held_out_dataset
        from ganstudio.engine.formats import load_generator
        from ganstudio.engine.metrics.evaluation import sample_generator

        if not Path(args.source).exists():
            raise ConfigError(f"{args.source} does not exist")
        generator = load_generator(args.source)
        dataset = args.data or generator.dataset
        info = DATASETS.get(dataset or "")
        if info is None or not info.is_image:
            raise ConfigError(f"--metrics parzen needs real images no run trained on, which "
                              f"GAN Studio draws fresh for its built-in image sets, not for "
                              f"{dataset}; give your own: --real A.npy (pixels in 0..1, half "
                              "for σ, half to measure) --fake B.npy")
        held = held_out_dataset(dataset, 0, PARZEN_REAL)
        real = held.x.reshape(len(held.x), -1).double().numpy() / 255.0
        fake_images = sample_generator(generator, args.n, args.seed, stages.part("sampling"))
        if tuple(fake_images.shape[1:]) != tuple(info.shape):
            raise ConfigError(f"{dataset} images are {_shape(info.shape)} but the generator "
                              f"draws {_shape(fake_images.shape[1:])}")
        fake = fake_images.reshape(len(fake_images), -1).double().numpy() / 255.0
        where = {"source": str(args.source), "data": dataset, "features": "pixels"}
    if real.shape[0] < 2:
        raise ConfigError("--metrics parzen needs at least 2 real rows (half for σ, half to "
                          "measure)")
    half = real.shape[0] // 2
    result = parzen_evaluation(fake, real[:half], real[half:], progress=stages.part("parzen"))
    return {**where, "n_real": int(real.shape[0]), "n_fake": int(fake.shape[0]),
            "seed": args.seed, "metrics": {"parzen": result.mean, "parzen_sem": result.sem,
                                           "parzen_sigma": result.sigma}}


def _shape(shape) -> str:
    return "×".join(str(s) for s in shape)


_LABELS = {
    "fid": "FID", "kid": "KID", "precision": "precision", "recall": "recall",
    "density": "density", "coverage": "coverage", "confident": "confident",
    "class_coverage": "class coverage", "class_kl": "class KL",
    "parzen": "Parzen log-lik", "parzen_sem": "± (std. error)", "parzen_sigma": "σ",
}


def _report_text(report: dict) -> str:
    what = report.get("source") or f"{report['fake']} against {report['real']}"
    data = f" against {report['data']}" if report.get("data") else ""
    lines = [f"{what}{data}: {report['n_fake']:,} generated, {report['n_real']:,} real, "
             f"{report['features']} features ({report['seconds']:.1f} s)"]
    values = dict(report["metrics"])
    kid_std = values.pop("kid_std", None)
    for key, value in values.items():
        text = f"{value:.6g}" + (f" ± {kid_std:.2g}" if key == "kid" else "")
        lines.append(f"  {_LABELS.get(key, key):<15}{text}")
    return "\n".join(lines)


def cmd_classifiers(args) -> int:
    from ganstudio.engine.metrics.classifier import (
        load_classifier,
        recipe_for,
        save_classifier,
        shipped_classifier_path,
        train_classifier,
    )
    from ganstudio.engine.metrics.features import shipped_classifiers

    if args.classifiers_command == "list":
        names = shipped_classifiers()
        width = max((len(name) for name in names), default=0)
        for name in names:
            path = shipped_classifier_path(name)
            meta = load_classifier(path).meta
            print(f"{name:<{width}}  {100 * meta['accuracy']:6.2f}% right on "
                  f"{meta['n_test']:>6,} held-out images  {path.stat().st_size / 1024:.0f} KB  "
                  f"{path}")
        return 0
    recipe = recipe_for(args.dataset)
    trained = train_classifier(recipe, progress=lambda line: print(line, file=sys.stderr))
    out = Path(args.out) / f"{recipe.dataset}.safetensors" if args.out else \
        shipped_classifier_path(recipe.dataset)
    save_classifier(out, trained)
    print(f"{out}: {100 * trained.meta['accuracy']:.2f}% right on "
          f"{trained.meta['n_test']:,} held-out images")
    return 0
