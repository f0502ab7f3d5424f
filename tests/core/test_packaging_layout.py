"""The distribution layout later packages build on: ``wheelnext`` is a namespace package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_other_distributions_extend_the_wheelnext_namespace(site_dir: Path) -> None:
    package = site_dir / "wheelnext" / "providers" / "fake"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("NAME = 'fake provider'\n")
    code = (
        "import wheelnext, wheelnext.core, wheelnext.providers.fake as fake\n"
        "print(wheelnext.__file__, fake.NAME, wheelnext.core.__version__)\n"
        "print(len(list(wheelnext.__path__)))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    first, second = proc.stdout.splitlines()
    assert first.startswith("None fake provider ")  # no __init__.py: a namespace package
    assert int(second) >= 2  # portions from two distributions merged


def test_core_ships_its_type_marker_and_no_namespace_init() -> None:
    import wheelnext.core

    root = Path(wheelnext.core.__file__).parent
    assert (root / "py.typed").is_file()
    assert not (root.parent / "__init__.py").exists()
