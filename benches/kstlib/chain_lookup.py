"""kstlib 3.8.2 side of benches/chain.rs: warm lookups through its `env -> sops` chain
(chain_setup.py) on benches/data/large.enc.yaml, medians of timeit runs as sops_lookup.py does.

- env miss, sops hit: services.payments.db.password, no env variable, answered by the SOPS layer
  from its cached document (after a stat() for the mtime);
- env hit: services.payments.db.user, from BENCH__SERVICES__PAYMENTS__DB__USER;
- chain miss: services.payments.db.absent, required=False: kstlib's default record (value None);
- threads: ONE resolver shared by 1, 2 and 8 Python threads doing env-miss/sops-hit lookups;
  lookups/s in total, from the first thread's start to the last one's end, median of runs.

    SOPS_BIN=$(scripts/install-sops) $(scripts/install-kstlib) benches/kstlib/chain_lookup.py
"""

import statistics
import sys
import threading
import time
import timeit

sys.dont_write_bytecode = True  # no __pycache__ of chain_setup in the source tree
from chain_setup import CASES, new_resolver  # noqa: E402

resolver = new_resolver()


def fmt(seconds):
    return f"{seconds * 1e9:.0f} ns"


N = 20_000
for label, case in [("env miss, sops hit", "env-then-sops"), ("env hit", "chain-env-hit"), ("chain miss", "chain-miss")]:
    request, _ = CASES[case]
    runs = [timeit.timeit(lambda: resolver.resolve(request), number=N) / N for _ in range(15)]
    q = statistics.quantiles(runs, n=4)
    print(f"kstlib chain {label}: median {fmt(statistics.median(runs))} "
          f"(quartiles {fmt(q[0])} - {fmt(q[2])}, best {fmt(min(runs))}, {len(runs)} runs of {N})")


def concurrent(threads, per_thread):
    """Seconds from the first thread's start to the last one's end, each doing per_thread lookups."""
    request, _ = CASES["env-then-sops"]
    barrier = threading.Barrier(threads)
    spans = [None] * threads

    def work(index):
        barrier.wait()
        start = time.perf_counter()
        for _ in range(per_thread):
            resolver.resolve(request)
        spans[index] = (start, time.perf_counter())

    workers = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return max(end for _, end in spans) - min(start for start, _ in spans)


PER_THREAD = 10_000
for threads in (1, 2, 8):
    rates = [threads * PER_THREAD / concurrent(threads, PER_THREAD) for _ in range(9)]
    print(f"kstlib chain env miss, sops hit, {threads} threads on one resolver: median "
          f"{statistics.median(rates) / 1e3:.0f} k lookups/s in total "
          f"(min {min(rates) / 1e3:.0f}k, max {max(rates) / 1e3:.0f}k, 9 runs of {PER_THREAD} per thread)")
