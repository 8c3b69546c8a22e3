import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_data(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    root = tmp_path_factory.mktemp("voicebox-data")
    mp.setenv("VOICEBOX_DATA_DIR", str(root / "data"))
    mp.setenv("HF_HUB_CACHE", str(root / "hub"))
    mp.setenv("HF_HUB_OFFLINE", "1")
    yield
    mp.undo()
