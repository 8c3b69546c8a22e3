"""The page a person uses, in headless Chromium: every picker from /engines, no engine named."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from conftest import ARTIFACTS, ROOT, Server, open_page
from voicebox_core.testing import write_reference_clip

WEB = ROOT / "core" / "src" / "voicebox_core" / "server" / "web"
LATE_ENGINE = ROOT / "tests" / "isolation" / "plugins" / "faulty"


def options(page, select: str) -> list[str]:  # type: ignore[no-untyped-def]
    return page.eval_on_selector_all(f"#{select} option", "els => els.filter(e => !e.disabled).map(e => e.value)")


def generate(page, engine: str, text: str, voice: str | None = None) -> None:  # type: ignore[no-untyped-def]
    page.click("nav button[data-tab=generate]")
    page.select_option("#engine", engine)
    if voice is not None:
        page.select_option("#voice", voice)
    page.fill("#text", text)
    page.fill("#seed", "7")
    page.click("#generate")
    page.wait_for_function("document.getElementById('generate-status').textContent.startsWith('completed')"
                           " || !document.getElementById('notice').hidden", timeout=120_000)
    assert page.is_hidden("#notice"), page.inner_text("#notice")


def test_the_page_names_no_engine() -> None:
    names = {p.name for p in (ROOT / "plugins").iterdir() if p.is_dir()}
    names |= {"reference", "hubtest", "faulty", "broken", "qwen_custom_voice", "qwen_voice_design", "chatterbox_turbo"}
    for source in WEB.iterdir():
        text = source.read_text().lower()
        found = sorted(n for n in names if re.search(rf"(?<![\w-]){re.escape(n)}(?![\w-])", text))
        assert found == [], f"{source.name} names {found}"


def test_pickers_follow_each_engine_s_metadata(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    open_page(page, server)
    listing = httpx.get(f"{server.base}/engines").json()
    assert sorted(options(page, "engine")) == sorted(e["name"] for e in listing["engines"])
    for info in listing["engines"]:
        page.select_option("#engine", info["name"])
        assert options(page, "model") == [m["model_name"] for m in info["models"]]
        for model in info["models"]:
            page.select_option("#model", model["model_name"])
            assert options(page, "language") == model["languages"]
            labels = page.eval_on_selector_all("#language option", "els => els.map(e => e.textContent)")
            assert labels == [info["language_labels"][c] for c in model["languages"]]
            presets = [f"preset:{v['voice_id']}" for v in info["preset_voices"]
                       if not v["models"] or model["model_name"] in v["models"]]
            assert [v for v in options(page, "voice") if v.startswith("preset:")] == presets
            assert page.is_hidden("#instruct-field") == (not model["supports_instruct"])
    assert "English" in page.inner_text("#language") or options(page, "language")


def test_generate_play_download_and_delete(page, server: Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    open_page(page, server)
    generate(page, "piper", "Hello from the web page.")
    duration = page.wait_for_function("document.getElementById('player').duration > 0 && "
                                      "document.getElementById('player').duration", timeout=30_000).json_value()
    assert duration > 0.5
    page.screenshot(path=str(ARTIFACTS / "generate.png"))  # the README's picture
    page.click("nav button[data-tab=history]")
    row = page.locator("#history-table tbody tr").filter(has_text="Hello from the web page.")
    row.wait_for()
    assert "completed" in row.inner_text()
    with page.expect_download() as download:
        row.get_by_role("button", name="Download").click()
    saved = tmp_path / "saved.wav"
    download.value.save_as(saved)
    assert saved.read_bytes()[:4] == b"RIFF" and saved.stat().st_size > 10_000
    page.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)
    row.get_by_role("button", name="Delete").click()
    page.wait_for_function("document.querySelectorAll('#history-table tbody tr').length === 0")
    assert httpx.get(f"{server.base}/history").json()["total"] == 0


def test_cloned_profile_from_an_uploaded_clip(page, server: Server, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    clip = write_reference_clip(tmp_path / "me.wav", seconds=4.0)
    open_page(page, server)
    page.click("nav button[data-tab=profiles]")
    page.fill("#profile-name", "Me, cloned")
    page.select_option("#profile-kind", "cloned")
    page.set_input_files("#profile-clip", str(clip))
    page.fill("#profile-transcript", "Hello, this is my voice.")
    page.click("#create-profile")
    page.wait_for_selector("#profiles-table tbody tr:has-text('Me, cloned')")
    assert page.is_hidden("#notice"), page.inner_text("#notice")
    (profile,) = [p for p in httpx.get(f"{server.base}/profiles").json() if p["name"] == "Me, cloned"]
    assert profile["sample_count"] == 1
    cloning = [e["name"] for e in httpx.get(f"{server.base}/engines").json()["engines"] if "cloned" in e["voice_kinds"]]
    generate(page, cloning[0], "Now in my own voice.", voice=f"profile:{profile['id']}")
    (item,) = httpx.get(f"{server.base}/history").json()["items"]
    assert item["profile_id"] == profile["id"] and item["status"] == "completed"


def test_a_profile_recorded_in_the_browser(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """Chromium's fake microphone (a beep) through MediaRecorder, saved as WAV by the page."""
    open_page(page, server)
    page.click("nav button[data-tab=profiles]")
    page.fill("#profile-name", "Recorded")
    page.select_option("#profile-kind", "cloned")
    page.click("#record")
    page.wait_for_function("document.getElementById('record-status').textContent === 'recording…'")
    page.wait_for_timeout(4000)
    page.click("#record")
    page.wait_for_function("document.getElementById('record-status').textContent.startsWith('recorded')")
    page.fill("#profile-transcript", "beep")
    page.click("#create-profile")
    page.wait_for_function("document.getElementById('profile-status').textContent.startsWith('created')"
                           " || !document.getElementById('notice').hidden", timeout=30_000)
    # The fake microphone is a pure tone: an engine may refuse it as unvoiced, but with a
    # message, and then no profile is left behind without its clip.
    profiles = [p for p in httpx.get(f"{server.base}/profiles").json() if p["name"] == "Recorded"]
    if page.is_visible("#notice"):
        assert profiles == [] and page.inner_text("#notice").strip()
    else:
        assert profiles[0]["sample_count"] == 1


def test_a_model_downloads_with_a_real_progress_bar(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    open_page(page, server)
    page.click("nav button[data-tab=models]")
    missing = [m for m in httpx.get(f"{server.base}/models/status").json()["models"]
               if not m["downloaded"] and not m["bundled"] and m["hf_repo_id"] == "voicebox-test/tiny-tone"]
    name = missing[0]["model_name"]
    row = page.locator(f"#models-table tr[data-model='{name}']")
    row.wait_for()
    page.evaluate("""name => { window.seen = [];
        window.timer = setInterval(() => { const b = document.querySelector(`tr[data-model='${name}'] progress`);
            if (b) window.seen.push(b.value); }, 20); }""", name)
    row.get_by_role("button", name="Download").click()
    page.wait_for_function(f"document.querySelector(\"tr[data-model='{name}'] td:nth-child(3)\").innerText"
                           ".startsWith('downloaded')", timeout=60_000)
    seen = page.evaluate("window.seen")
    assert max(seen) == 100 and any(0 < v < 100 for v in seen), seen
    status = {m["model_name"]: m for m in httpx.get(f"{server.base}/models/status").json()["models"]}
    assert status[name]["downloaded"] and status[name]["size_on_disk_mb"] > 0


def test_a_failed_plugin_is_shown_with_its_reason_and_fix(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    open_page(page, server)
    assert page.is_visible("#failed")
    text = page.inner_text("#failed")
    assert "voicebox-test-broken" in text and "voicebox_test_missing_dependency" in text and "fix:" in text


def test_the_token_is_asked_once_and_kept_for_the_session(page, tmp_path: Path, environment: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    server = Server(tmp_path / "data", {**environment, "VOICEBOX_API_TOKEN": "s3cret-token"})
    try:
        asked: list[str] = []

        def answer(dialog) -> None:  # type: ignore[no-untyped-def]
            asked.append(dialog.message)
            dialog.accept("s3cret-token")

        page.on("dialog", answer)
        open_page(page, server)
        assert len(options(page, "engine")) >= 2
        page.reload()
        page.wait_for_selector("body[data-ready=true]")
        generate(page, "piper", "Behind a token.")
        assert len(asked) == 1 and "token" in asked[0].lower()
    finally:
        server.stop()


def test_an_engine_installed_later_appears_in_every_picker(page, server: Server) -> None:  # type: ignore[no-untyped-def]
    """Install a distribution, restart, reload: it is in the page, and no page file changed."""
    before = {p.name: p.read_bytes() for p in WEB.iterdir()}
    open_page(page, server)
    assert "faulty" not in options(page, "engine")
    done = subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "install", str(LATE_ENGINE)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    try:
        server.restart()
        open_page(page, server)
        assert "faulty" in options(page, "engine")
        page.select_option("#engine", "faulty")
        assert options(page, "model") == ["faulty-local", "faulty-hub"]
        assert options(page, "voice")[0] == "preset:tone"
        assert options(page, "language") == ["en", "de"]
        assert page.eval_on_selector_all("#language option", "els => els.map(e => e.textContent)") == ["English", "German"]
        page.click("nav button[data-tab=profiles]")
        page.select_option("#profile-kind", "preset")
        assert "faulty" in options(page, "profile-preset-engine")
        page.click("nav button[data-tab=models]")
        page.wait_for_selector("#models-table tr[data-model='faulty-local']")
        generate(page, "faulty", "A latecomer speaks.")
        page.screenshot(path=str(ARTIFACTS / "late-engine.png"), full_page=True)
    finally:
        subprocess.run([sys.executable, "-m", "voicebox_core", "engines", "uninstall", "voicebox-test-faulty"],
                       capture_output=True, timeout=300)
    assert {p.name: p.read_bytes() for p in WEB.iterdir()} == before


@pytest.mark.parametrize("path", ["/", "/web/app.js", "/web/style.css"])
def test_the_page_is_served_from_the_package(server: Server, path: str) -> None:
    response = httpx.get(server.base + path)
    assert response.status_code == 200 and response.content == (WEB / (Path(path).name or "index.html")).read_bytes()
