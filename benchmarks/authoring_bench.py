"""Authoring tools, measured: `voicebox engine new` to a conformant plugin, and `voicebox audit`.

    python benchmarks/authoring_bench.py [--skip-new] [--skip-audit] [--json OUT]

1. In a fresh venv outside the repository (a temporary folder): build a wheel of
   voicebox-core, `voicebox engine new benchdemo`, install both, `voicebox engines list`,
   `pytest tests` (the conformance kit). Prints each command and its wall time.
2. For every engine of ours under plugins/<engine>/ whose tox environment exists
   (.tox/<engine>, where the engine is installed with its pins): `voicebox audit
   voicebox-engine-<engine> --json` run in that environment, with this checkout's core on
   PYTHONPATH; prints findings, conflicts and directives per engine and the wall time.
   `--audit-dir docs/audits` keeps each report beside the engine's written audit.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNTIME = ["pluggy", "importlib-metadata", "numpy", "soundfile", "huggingface_hub", "pytest",
           "packaging"]


def timed(command: list[str], **kwargs: object) -> tuple[float, subprocess.CompletedProcess[str]]:
    started = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)  # type: ignore[call-overload]
    seconds = time.perf_counter() - started
    shown = " ".join(shlex.quote(str(c)) for c in command)
    print(f"  {seconds:6.1f} s  {shown[:150]}")
    if result.returncode != 0:
        print(result.stdout[-2000:], result.stderr[-2000:])
        raise SystemExit(f"command failed ({result.returncode})")
    return seconds, result


def bench_new() -> dict[str, object]:
    print("engine new -> discovered, conformance-passing plugin (fresh venv, outside the repo)")
    with tempfile.TemporaryDirectory(prefix="voicebox-authoring-") as tmp:
        work = Path(tmp)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VOICEBOX_DATA_DIR")}
        steps: dict[str, float] = {}
        steps["venv"], _ = timed([sys.executable, "-m", "venv", str(work / "venv")])
        bin_dir = work / "venv" / "bin"
        python = str(bin_dir / "python")
        # What a third party does: `pip install voicebox-core`; here core comes as a wheel.
        steps["core wheel"], _ = timed([sys.executable, "-m", "pip", "wheel", "--quiet",
                                        "--no-deps", "--no-build-isolation", "-w",
                                        str(work / "wheels"), str(ROOT / "core")])
        core_wheel = next((work / "wheels").glob("voicebox_core-*.whl"))
        steps["pip install voicebox-core"], _ = timed(
            [python, "-m", "pip", "install", "--quiet", str(core_wheel), *RUNTIME], env=env)
        started = time.perf_counter()
        steps["voicebox engine new"], _ = timed([str(bin_dir / "voicebox"), "engine", "new",
                                                 "benchdemo", "--dir", str(work)], env=env)
        plugin = work / "voicebox-engine-benchdemo"
        steps["pip install -e plugin"], _ = timed(
            [python, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(plugin)], env=env)
        _, listing = timed([str(bin_dir / "voicebox"), "engines", "list", "--json"], env=env)
        steps["voicebox engines list"] = _
        engines = [row["engine"] for row in json.loads(listing.stdout)["engines"]]
        assert "benchdemo" in engines, engines
        steps["pytest tests"], tests = timed([python, "-m", "pytest", "-q", "-p",
                                              "no:cacheprovider"], cwd=plugin, env=env)
        author_seconds = time.perf_counter() - started
        summary = tests.stdout.strip().splitlines()[-1]
        print(f"  -> {summary}; from `engine new` to a passing plugin: {author_seconds:.1f} s "
              f"(plus {steps['venv'] + steps['pip install voicebox-core']:.1f} s for the venv "
              "and voicebox-core)")
        return {"steps": steps, "engine_new_to_passing_s": round(author_seconds, 1),
                "tests": summary}


def bench_audit(audit_dir: Path | None = None) -> dict[str, object]:
    print("\nvoicebox audit, per engine of ours (in each engine's tox environment)")
    results: dict[str, object] = {}
    for plugin in sorted(p for p in (ROOT / "plugins").iterdir() if (p / "pyproject.toml").is_file()):
        engine = plugin.name
        python = ROOT / ".tox" / engine / "bin" / "python"
        distribution = f"voicebox-engine-{engine}"
        if not python.is_file():
            print(f"  {engine}: not installable here (no .tox/{engine} environment); skipped")
            results[engine] = None
            continue
        env = {**os.environ, "PYTHONPATH": str(ROOT / "core" / "src")}
        started = time.perf_counter()
        run = subprocess.run([str(python), "-m", "voicebox_core", "audit", distribution, "--json"],
                             capture_output=True, text=True, env=env)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            print(f"  {engine}: audit failed: {run.stderr.strip()[:200]}")
            results[engine] = None
            continue
        data = json.loads(run.stdout)
        if audit_dir is not None:
            audit_dir.mkdir(parents=True, exist_ok=True)
            text = subprocess.run([str(python), "-m", "voicebox_core", "audit", distribution],
                                  capture_output=True, text=True, env=env, check=True).stdout
            (audit_dir / f"{engine}.audit.txt").write_text(text)
            (audit_dir / f"{engine}.audit.json").write_text(json.dumps(data, indent=1))
        own = len(data["packages"][0]["findings"])
        stack = [c for c in data["conflicts"] if c["stack"]]
        print(f"  {engine}: {data['findings']} findings in {len(data['packages'])} distributions "
              f"({own} in the plugin itself), {len(data['conflicts'])} conflicts "
              f"({len(stack)} on torch/transformers/numpy), {len(data['missing'])} missing, "
              f"{len(data['directives'])} hook directives; {seconds:.1f} s")
        results[engine] = {
            "findings": data["findings"], "in_plugin": own, "distributions": len(data["packages"]),
            "conflicts": len(data["conflicts"]), "stack_conflicts": len(stack),
            "missing": len(data["missing"]), "directives": len(data["directives"]),
            "by_package": {p["distribution"]: len(p["findings"]) for p in data["packages"]
                           if p["findings"]},
            "seconds": round(seconds, 1),
        }
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-new", action="store_true")
    parser.add_argument("--skip-audit", action="store_true")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--audit-dir", type=Path,
                        help="write each engine's audit (<engine>.audit.txt / .json) here")
    args = parser.parse_args()
    figures: dict[str, object] = {}
    if not args.skip_new:
        figures["engine_new"] = bench_new()
    if not args.skip_audit:
        figures["audit"] = bench_audit(args.audit_dir)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
