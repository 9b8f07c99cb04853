"""The recipes registry, the pretrained generators shipped in resources/pretrained, and the
``recipes`` command. Engine tests (no Qt) apart from the CLI's, which run no training."""

import json
import math

import pytest
import torch
from safetensors import safe_open

from ganstudio.cli import main
from ganstudio.engine import explore, latent, recipes
from ganstudio.engine.checkpoint import META_KEY, load_native_generator
from ganstudio.engine.config import RunConfig, problems
from ganstudio.engine.events import DoneEvent
from ganstudio.engine.formats import load_generator
from ganstudio.engine.latent import sample_latents
from ganstudio.resources import pretrained_dir

NAMES = ("digits", "digits-conditional", "ring8", "shapes")
MAX_BYTES = 5 * 1024 * 1024
# With a margin below what the shipped generators achieve: the unconditional digits put at
# least 9 of 200 samples in every class, and the conditional ones agree 97–99.5% of the time.
MIN_DIGIT_CLASSES = 9  # of 10, each holding at least 2% of 200 unconditional samples
MIN_CONDITIONAL_AGREEMENT = 0.85  # of 200 conditional samples, 20 per class


@pytest.fixture(scope="module")
def shipped():
    return {name: load_generator(pretrained_dir() / f"{name}.safetensors") for name in NAMES}


@pytest.fixture(scope="module")
def digit_classifier():
    """A nearest-class-mean classifier on 2,000 real digits (about 87% right on real ones)."""
    from ganstudio.engine.data.digits import build_digits

    x, y = build_digits(2000, 0)
    x = x.float().flatten(1) / 255
    means = torch.stack([x[y == k].mean(dim=0) for k in range(10)])

    def classify(images: torch.Tensor) -> torch.Tensor:
        flat = (images.float().flatten(1) + 1) / 2  # generator range -1..1 → ink 0..1
        return torch.cdist(flat, means).argmin(dim=1)

    return classify


# --- the registry ---------------------------------------------------------------------------


def test_registry_holds_the_four_recipes_with_valid_configs():
    assert tuple(recipes.RECIPES) == NAMES
    assert [r.name for r in recipes.list_recipes()] == list(NAMES)
    for name, recipe in recipes.RECIPES.items():
        assert recipe.name == name and recipe.filename == f"{name}.safetensors"
        assert recipe.description and "\n" not in recipe.description
        assert problems(recipe.config) == [], name
    assert recipes.RECIPES["digits-conditional"].config.model.conditional
    assert not recipes.RECIPES["digits"].config.model.conditional
    assert recipes.RECIPES["ring8"].config.model.family == "toy"
    assert recipes.RECIPES["shapes"].config.data.name == "shapes"


def test_unknown_recipe_is_a_config_error():
    from ganstudio.engine.errors import ConfigError

    with pytest.raises(ConfigError, match=r"unknown recipe 'nope'.*digits-conditional"):
        recipes.train_recipe("nope")


# --- the shipped files ----------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_shipped_generator_loads_and_samples(name, shipped):
    path = pretrained_dir() / f"{name}.safetensors"
    assert path.stat().st_size <= MAX_BYTES
    generator = shipped[name]
    config = recipes.RECIPES[name].config
    assert generator.meta["recipe"] == name
    assert generator.dataset == config.data.name == generator.meta["dataset"]["name"]
    assert generator.step == config.train.steps
    assert RunConfig.from_dict(generator.meta["config"]) == config  # fields added since: defaults

    n = 16
    z = sample_latents(n, generator.z_dim, seed=0)
    labels = torch.arange(n) % len(generator.classes) if generator.conditional else None
    out = generator.render(z, labels)
    assert out.dtype == torch.float32 and out.shape == (n, *generator.shape)
    assert torch.isfinite(out).all()
    if generator.output_range is not None:
        lo, hi = generator.output_range
        assert lo <= out.min() and out.max() <= hi
    else:  # ring8: 8 modes on a circle of radius 2
        assert (out.norm(dim=1) < 3).all()


def test_conditional_digits_differ_by_class(shipped):
    generator = shipped["digits-conditional"]
    assert generator.classes == tuple(str(d) for d in range(10))
    z = sample_latents(8, generator.z_dim, seed=1)
    threes = generator.render(z, torch.full((8,), 3))
    sevens = generator.render(z, torch.full((8,), 7))
    assert (threes - sevens).abs().mean() > 0.1


def test_digits_generator_covers_the_classes(shipped, digit_classifier):
    generator = shipped["digits"]
    images = generator.render(sample_latents(200, generator.z_dim, seed=0))
    found = torch.bincount(digit_classifier(images), minlength=10)
    assert int((found >= 4).sum()) >= MIN_DIGIT_CLASSES, found.tolist()


def test_conditional_digits_are_the_requested_digit(shipped, digit_classifier):
    generator = shipped["digits-conditional"]
    labels = torch.arange(10).repeat_interleave(20)
    images = generator.render(sample_latents(200, generator.z_dim, seed=0), labels)
    agreement = (digit_classifier(images) == labels).float().mean().item()
    assert agreement >= MIN_CONDITIONAL_AGREEMENT, agreement


def test_ring8_generator_sits_on_the_eight_modes(shipped):
    from ganstudio.engine.data.toy2d import ring8_modes
    from ganstudio.engine.metrics.modes import mode_coverage

    generator = shipped["ring8"]
    points = generator.render(sample_latents(2500, generator.z_dim, seed=0))
    metrics = mode_coverage(points, ring8_modes(), 0.02)
    assert metrics["modes"] == 8 and metrics["high_quality"] > 70


# --- training a recipe ----------------------------------------------------------------------


def test_train_recipe_writes_an_fp16_file_that_loads_as_float32(tmp_path, monkeypatch):
    cfg = recipes.RECIPES["ring8"].config.replace(**{
        "model.hidden": 8, "model.depth": 2, "train.steps": 6, "train.batch_size": 16,
        "train.sample_every": 3, "train.eval_every": 3, "train.checkpoint_every": 0,
        "train.grid_size": 16,
    })
    monkeypatch.setitem(recipes.RECIPES, "ring8", recipes.Recipe("ring8", "tiny", cfg))
    events = []
    path = recipes.train_recipe(
        "ring8", out_dir=tmp_path / "out", run_dir=tmp_path / "run", progress=events.append
    )

    assert path == tmp_path / "out" / "ring8.safetensors"
    assert isinstance(events[-1], DoneEvent) and events[-1].step == 6
    assert (tmp_path / "run" / "checkpoints" / "step_0000006.safetensors").is_file()
    with safe_open(str(path), framework="pt") as f:
        dtypes = {f.get_tensor(k).dtype for k in f.keys()}  # noqa: SIM118 (no __iter__)
        meta = json.loads(f.metadata()[META_KEY])
    assert dtypes == {torch.float16}
    assert meta["recipe"] == "ring8" and meta["step"] == 6 and meta["family"] == "toy"
    assert meta["ema"] is True and meta["config"] == cfg.to_dict()
    assert math.isfinite(meta["train_seconds"])

    generator = load_native_generator(path)
    assert all(p.dtype == torch.float32 for p in generator.module.parameters())
    assert generator.render(torch.zeros(3, generator.z_dim)).dtype == torch.float32
    # the registry's own config is left as it was
    assert recipes.RECIPES["ring8"].config.train.steps == 6


def test_train_recipe_refuses_a_run_folder_in_use(tmp_path):
    from ganstudio.engine.errors import ConfigError

    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(ConfigError, match="already holds a run"):
        recipes.train_recipe("ring8", out_dir=tmp_path, run_dir=tmp_path)


# --- the CLI --------------------------------------------------------------------------------


def test_cli_recipes_list_names_every_recipe(capsys):
    assert main(["recipes", "list"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()[1:]}
    assert set(rows) == set(NAMES)
    for name in NAMES:
        steps = str(recipes.RECIPES[name].config.train.steps)
        assert rows[name][1:4] == [steps, f"{name}.safetensors", "yes"]


def test_cli_recipes_train_unknown_name_is_one_line_and_exit_2(capsys):
    assert main(["recipes", "train", "nope"]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "unknown recipe 'nope'" in err


def test_cli_recipes_needs_an_action(capsys):
    assert main(["recipes"]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_ganspace_directions_of_a_conditional_generator_are_per_class(shipped):
    """Across classes the top components carry class variation that z cannot move; within
    one class z explains nearly all of each (measured: 3 % mixed, 99.8 % per class)."""
    generator = shipped["digits-conditional"]
    for klass in (0, 7):
        found = explore.ganspace(generator, n=2000, k=5, klass=klass)
        assert torch.all(found.latent_r2 > 0.9), (klass, found.latent_r2)
    z = generator.sample_z(2000, 0)
    mixed = torch.arange(2000) % 10
    across = latent.pca_directions(lambda rows: generator.features(z[rows], mixed[rows]), z, 5)
    assert torch.all(across.latent_r2 < 0.3)
