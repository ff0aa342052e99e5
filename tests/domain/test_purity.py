import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_domain_imports_no_framework_and_nothing_of_the_event_store():
    script = "import sys, orders.domain; print('\\n'.join(sorted(sys.modules)))"
    run = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    loaded = set(run.stdout.split())
    roots = {name.partition(".")[0] for name in loaded}
    assert not roots & {"django", "rest_framework", "celery", "config", "projections", "eventstore"}
