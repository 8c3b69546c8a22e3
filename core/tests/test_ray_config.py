"""`voicebox serve --ray` settings: the TOML file and the flags, checked before Ray is touched."""

from __future__ import annotations

from pathlib import Path

import pytest
from voicebox_core.errors import InvalidRequestError
from voicebox_core.ray_serve.config import DeploymentConfig, RayConfig


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ray.toml"
    path.write_text(text)
    return path


def test_defaults_apply_to_every_engine_and_a_table_overrides_them(tmp_path: Path) -> None:
    config = RayConfig.load(write(tmp_path, """
address = "ray://head:10001"
engines = ["piper", "qwen"]
[defaults]
num_cpus = 0.5
max_ongoing_requests = 3
[engine.qwen]
num_gpus = 1
[engine.qwen.autoscaling]
min_replicas = 0
max_replicas = 4
"""))
    assert config.address == "ray://head:10001" and config.engines == ("piper", "qwen")
    assert config.deployment("piper") == DeploymentConfig(num_cpus=0.5, max_ongoing_requests=3)
    qwen = config.deployment("qwen")
    assert qwen.num_cpus == 0.5 and qwen.num_gpus == 1.0 and qwen.autoscaling == {"min_replicas": 0, "max_replicas": 4}
    assert qwen.most_replicas == 4  # the server admits 4 x 3 requests at once for it
    assert config.wants("piper") and not config.wants("kokoro")
    assert config.app("qwen") == "voicebox-qwen"


def test_the_command_line_wins_over_the_file(tmp_path: Path) -> None:
    config = RayConfig.load(write(tmp_path, 'address = "a:1"\nengines = ["x"]\n[engine.piper.autoscaling]\nmax_replicas = 3\n'),
                            address="b:2", engines=("piper",), replicas={"piper": 2})
    assert config.address == "b:2" and config.engines == ("piper",)
    assert config.deployment("piper").num_replicas == 2 and config.deployment("piper").autoscaling is None


def test_no_file_means_every_engine_with_one_replica() -> None:
    config = RayConfig.load(None, address="local")
    assert config.engines == () and config.wants("anything")
    assert config.deployment("anything") == DeploymentConfig()
    assert config.deployment("anything").num_gpus is None  # auto: from the model's devices


@pytest.mark.parametrize(("text", "said"), [
    ("nonsense = 1", "unknown key"),
    ("[defaults]\nreplicas = 2", "unknown key(s) replicas"),
    ("[defaults]\nnum_replicas = 0", "whole number >= 1"),
    ("[defaults]\nnum_cpus = -1", "number >= 0"),
    ('[defaults]\nenvironment = "docker"', "environment must be one of"),
    ("engines = 'piper'", "list of engine names"),
    ('prefix = "a b"', "prefix must be"),
    ("[engine.piper]\nautoscaling = 3", "must be a table"),
    ("this is = not toml [", "not valid TOML"),
])
def test_a_mistake_names_what_to_fix(tmp_path: Path, text: str, said: str) -> None:
    with pytest.raises(InvalidRequestError, match="Ray config") as raised:
        RayConfig.load(write(tmp_path, text))
    assert said in str(raised.value)


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequestError, match="cannot be read"):
        RayConfig.load(tmp_path / "nope.toml")


def test_listing_engines_never_imports_ray() -> None:
    import subprocess
    import sys

    code = ("import sys, voicebox_core.ray_serve.config, voicebox_core.ray_serve.backend, "
            "voicebox_core.ray_serve.deploy; from voicebox_core.registry import Registry; Registry.discover(); "
            "print('ray' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
