"""Long differential fuzzing run: ``make fuzz`` (or ``python tests/fuzz/run.py --examples N``).

Pipelines come from seeds (``RandomChooser(seed)``), so each case is reproducible from its seed;
every difference is classified (``differential.classify``), shrunk, printed and written as a
ready-to-paste pytest test into ``tests/fuzz/found/`` (gitignored). The summary gives the number of
pipelines, the share that compiled entirely (no operator fell back to Python, judged by the
``FallbackWarning``s of the compiled runs) and the differences by cause.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fuzz import differential
from fuzz.pipelines import RandomChooser, gen_pipeline

FOUND = os.path.join(os.path.dirname(os.path.abspath(__file__)), "found")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=int(os.environ.get("FUZZ_EXAMPLES", "20000")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "0")), help="first seed")
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("FUZZ_SECONDS", "0")),
                        help="stop after this long (0: no limit)")  # fmt: skip
    parser.add_argument("--per-cause", type=int, default=3, help="tests written per distinct cause")
    parser.add_argument("--strict-order", action="store_true",
                        help="also report a different order after a shuffle on 2 partitions")  # fmt: skip
    args = parser.parse_args(argv)
    os.makedirs(FOUND, exist_ok=True)
    start = time.monotonic()
    done = compiled = 0
    causes: collections.Counter[str] = collections.Counter()
    for seed in range(args.seed, args.seed + args.examples):
        if args.seconds and time.monotonic() - start > args.seconds:
            break
        try:
            p = gen_pipeline(RandomChooser(seed))
            outcome = differential.check(p, strict_order=args.strict_order)
        except Exception as error:  # a harness bug must not end a long run: report it and go on
            causes["harness-error"] += 1
            print(f"--- seed {seed}: the harness failed: {type(error).__name__}: {error}", flush=True)
            continue
        done += 1
        compiled += outcome.fallbacks == 0
        if outcome.diff is not None:
            cause, _ = differential.classify(p, outcome.diff)
            causes[cause] += 1
            if causes[cause] <= args.per_cause:
                small, diff = differential.shrink(p, outcome.diff)
                name = f"fuzz_{cause.replace('-', '_')}_seed{seed}"
                text = differential.as_test(small, diff, cause, name)
                path = os.path.join(FOUND, f"test_{name}.py")
                with open(path, "w") as f:
                    f.write(text)
                print(f"--- seed {seed}: {cause}: {diff.describe()}\n{text}\n(written to {path})", flush=True)
        if done % 1000 == 0:
            elapsed = time.monotonic() - start
            print(f"{done} pipelines, {compiled / done:.1%} compiled, {sum(causes.values())} differing, "
                  f"{elapsed:.0f} s", flush=True)  # fmt: skip
    elapsed = time.monotonic() - start
    print(f"\n{done} pipelines (seeds {args.seed}..{args.seed + done - 1}) in {elapsed:.0f} s; "
          f"{compiled} ({compiled / max(done, 1):.1%}) compiled with no fallback; "
          f"{sum(causes.values())} differed")  # fmt: skip
    for cause, n in causes.most_common():
        print(f"  {n:6d}  {cause}  {differential.KNOWN_CAUSES.get(cause, 'NEW CAUSE')}")
    return 1 if causes else 0


if __name__ == "__main__":
    sys.exit(main())
