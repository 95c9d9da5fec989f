#!/usr/bin/env python3
"""Independent count of rebalancing opportunities in polymarketus_fed_jul2026.csv.

Reads the raw CSV with the standard library only (no Go code, no parsing code
shared with the Go reader) and counts, per snapshot (one poll = all rows with
the same ts_local_us), whether buying one share of YES on every outcome (long
set) or one share of NO on every outcome (short set) costs less than the set
pays at resolution:

  long:  every outcome has a YES ask, and sum(YES ask) < 1
  short: every outcome has a YES bid, and sum(NO ask) < n - 1,
         where NO ask = 1 - YES bid (one binary book per market)

Strict inequalities: a set costing exactly its payout is a tie, not an
opportunity (ties are printed separately). A snapshot missing any outcome's
row, or the needed side of any outcome, is not a candidate. The recording has
no sizes, so no size test is applied. Fees: the Polymarket schedule,
C x rate x p(1-p) per leg rounded down to 0.00001, for C = 1 share; rate 0
(fee-free) unless --rate is given. The event has no threshold structure, so
there are no implication pairs to count.

Usage: polymarketus_fed_jul2026_count.py [CSV] [--rate R] [--list]
"""
import csv
import sys
from collections import OrderedDict
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

HEADER = ["ts_local_us", "slug", "bid", "ask", "segment"]
FEE_PLACES = Decimal("0.00001")


def fee(rate, price):
    return (rate * price * (1 - price)).quantize(FEE_PLACES, rounding=ROUND_DOWN)


def main(argv):
    path = Path(__file__).with_name("polymarketus_fed_jul2026.csv")
    rate = Decimal(0)
    listing = False
    args = list(argv)
    while args:
        a = args.pop(0)
        if a == "--rate":
            rate = Decimal(args.pop(0))
        elif a == "--list":
            listing = True
        else:
            path = Path(a)

    polls = OrderedDict()
    slugs = []
    with open(path, newline="") as f:
        rd = csv.reader(f)
        if next(rd) != HEADER:
            sys.exit("unexpected header")
        for row in rd:
            ts, slug, bid, ask, _ = row
            if slug not in slugs:
                slugs.append(slug)
            polls.setdefault(int(ts), {})[slug] = (
                Decimal(bid) if bid else None,
                Decimal(ask) if ask else None,
            )
    n = len(slugs)
    counts = {k: 0 for k in ("complete", "long", "long_fee", "long_tie", "short", "short_fee", "short_tie")}
    best_long = best_short = None
    hits = []
    for ts in sorted(polls):
        p = polls[ts]
        if len(p) != n:
            continue
        counts["complete"] += 1
        asks = [p[s][1] for s in slugs]
        bids = [p[s][0] for s in slugs]
        if all(a is not None for a in asks):
            cost = sum(asks)
            cost_fee = cost + sum(fee(rate, a) for a in asks)
            best_long = cost if best_long is None else min(best_long, cost)
            if cost < 1:
                counts["long"] += 1
                hits.append((ts, "long", cost))
            elif cost == 1:
                counts["long_tie"] += 1
            if cost_fee < 1:
                counts["long_fee"] += 1
        if all(b is not None for b in bids):
            no_asks = [1 - b for b in bids]
            cost = sum(no_asks)
            cost_fee = cost + sum(fee(rate, a) for a in no_asks)
            best_short = cost if best_short is None else min(best_short, cost)
            if cost < n - 1:
                counts["short"] += 1
                hits.append((ts, "short", cost))
            elif cost == n - 1:
                counts["short_tie"] += 1
            if cost_fee < n - 1:
                counts["short_fee"] += 1

    print(f"file: {path.name}")
    print(f"outcomes: {n} ({', '.join(s.rsplit('-', 1)[1] for s in slugs)})")
    print(f"snapshots: {len(polls)}, with every outcome present: {counts['complete']}")
    print(f"long set  (sum YES ask < 1):       {counts['long']} before fees, "
          f"{counts['long_fee']} after fees (rate {rate}); ties {counts['long_tie']}; cheapest set {best_long}")
    print(f"short set (sum NO ask < {n - 1}):       {counts['short']} before fees, "
          f"{counts['short_fee']} after fees (rate {rate}); ties {counts['short_tie']}; cheapest set {best_short}")
    print("implication pairs: none (no threshold structure)")
    if listing:
        for ts, kind, cost in hits:
            print(f"  {ts} {kind} {cost}")


if __name__ == "__main__":
    main(sys.argv[1:])
