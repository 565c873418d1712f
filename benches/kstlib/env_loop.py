"""kstlib's side of benches/instructions.sh: COUNT env lookups from a reused resolver."""

import os
import sys

from kstlib.secrets.models import SecretRequest
from kstlib.secrets.providers import get_provider
from kstlib.secrets.resolver import SecretResolver

os.environ["KSTLIB__MAIL__SMTP__PASSWORD"] = "from-env"
resolver = SecretResolver([get_provider("environment")], name="bench")
request = SecretRequest(name="smtp.password", scope="mail")
resolver.resolve(request)
for _ in range(int(sys.argv[1])):
    resolver.resolve(request)
