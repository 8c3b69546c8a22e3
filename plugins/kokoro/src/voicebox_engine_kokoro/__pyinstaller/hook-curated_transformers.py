"""PyInstaller hook for curated-transformers (pulled in by misaki[en] via spacy-curated-transformers).

spaCy loads its registries' entry points when it builds any pipeline (even
``spacy.blank("en")``), which imports spacy_curated_transformers and then
``curated_transformers/models/output.py``, decorated with ``@torch.jit.script`` at import.
TorchScript reads the function's source with ``inspect.getsource``, so the ``.py`` files must
ship beside the bytecode or the import fails in a frozen app.
"""

module_collection_mode = "pyz+py"
