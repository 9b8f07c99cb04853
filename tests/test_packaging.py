"""The wheel: it carries the resources folder, and an installed (non-editable) package finds it."""

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRETRAINED = ("digits", "digits-conditional", "ring8", "shapes")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
         "--wheel-dir", str(out), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    (path,) = out.glob("ganstudio-*.whl")
    return path


def test_the_wheel_carries_resources_and_entry_points(wheel):
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        assert "ganstudio = ganstudio.cli:main" in z.read(entry_points).decode()
    assert "ganstudio/resources/icons/ganstudio.svg" in names
    assert {f"ganstudio/resources/pretrained/{n}.safetensors" for n in PRETRAINED} <= names
    assert "ganstudio/engine/trainer.py" in names and "ganstudio/app/main_window.py" in names


def test_an_installed_wheel_finds_its_resources(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        z.extractall(tmp_path / "site")
    code = ("import ganstudio.resources as r; print(r.resources_dir()); "
            "print(*sorted(p.name for p in r.pretrained_dir().iterdir()))")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, check=True, cwd=tmp_path)
    lines = result.stdout.splitlines()
    assert Path(lines[0]) == tmp_path / "site" / "ganstudio" / "resources"
    assert {f"{n}.safetensors" for n in PRETRAINED} <= set(lines[1].split())


def test_python_m_ganstudio_is_an_entry_point():
    result = subprocess.run([sys.executable, "-m", "ganstudio", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.strip().startswith("GAN Studio 0.1.0")
