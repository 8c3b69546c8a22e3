"""A clean module. Its docstring may say torch.load(x) or float64: docstrings never count."""


def speak(text: str) -> str:
    # A comment may say inspect.getsource(speak): comments never count.
    return text.upper()
