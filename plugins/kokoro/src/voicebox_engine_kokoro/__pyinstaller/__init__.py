"""PyInstaller entry points (``pyinstaller40``): this plugin's hooks and its freeze test."""

import os


def get_hook_dirs() -> list[str]:
    return [os.path.dirname(__file__)]


def get_PyInstaller_tests() -> list[str]:
    return [os.path.join(os.path.dirname(__file__), "tests")]
