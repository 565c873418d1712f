"""kstlib's side of benches/instructions.sh for the chain: COUNT warm lookups of one case of
chain_setup.py (env-then-sops, chain-env-hit, chain-miss) from a reused resolver.

usage: chain_loop.py CASE COUNT
"""

import sys

sys.dont_write_bytecode = True  # no __pycache__ of chain_setup in the source tree
from chain_setup import CASES, new_resolver  # noqa: E402

request, _ = CASES[sys.argv[1]]
resolver = new_resolver()
for _ in range(int(sys.argv[2])):
    resolver.resolve(request)
