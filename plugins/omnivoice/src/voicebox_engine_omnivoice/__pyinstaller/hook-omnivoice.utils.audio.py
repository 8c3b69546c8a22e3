"""``omnivoice.utils.audio`` imports librosa inside a function, only for a file soundfile cannot
read (never here: the backend hands it arrays); without this, librosa drags numba and llvmlite in."""

excludedimports = ["librosa"]
