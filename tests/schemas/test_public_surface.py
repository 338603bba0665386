import subprocess
import sys

import schemas


def test_every_public_name_resolves():
    for name in schemas.__all__:
        assert getattr(schemas, name) is not None, name


def test_importing_the_vocabulary_stays_light():
    code = (
        "import sys, schemas.vocabulary; "
        "print(sorted(m for m in ('pydantic', 'fastavro') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
