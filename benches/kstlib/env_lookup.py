"""kstlib 3.8.2 side of benches/resolve.rs: the same lookups, timed the same way (median of runs).

    python3 -m venv /tmp/kstlib && /tmp/kstlib/bin/pip install kstlib==3.8.2
    /tmp/kstlib/bin/python benches/kstlib/env_lookup.py
"""

import os
import statistics
import timeit

from kstlib.secrets.models import SecretRequest
from kstlib.secrets.providers import get_provider
from kstlib.secrets.resolver import SecretResolver

os.environ["KSTLIB__MAIL__SMTP__PASSWORD"] = "from-env"
resolver = SecretResolver([get_provider("environment")], name="bench")
request = SecretRequest(name="smtp.password", scope="mail")
assert resolver.resolve(request).value == "from-env"

N = 100_000
runs = [timeit.timeit(lambda: resolver.resolve(request), number=N) / N for _ in range(15)]
print(f"kstlib env lookup: median {statistics.median(runs) * 1e9:.0f} ns, best {min(runs) * 1e9:.0f} ns")
