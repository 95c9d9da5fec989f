#!/usr/bin/env python3
"""Independent count of implication opportunities in polymarketus_cpi_jul2026.csv.

Reads the raw CSV with the standard library only (no Go code, no parsing code
shared with the Go reader). The file is a threshold ladder: market "gtXptYpct"
resolves YES when July 2026 US CPI (year on year) is above X.Y%. A higher
threshold implies every lower one, so for every pair of rungs i < j in
threshold order (A = the higher rung j, B = the lower rung i; all pairs, not
only adjacent ones, the same pairs as replay.CPIJul2026Implications) YES on B
plus NO on A pays at least $1 at resolution. Per snapshot (one poll = all rows
with the same ts_local_us) and pair, the bundle costs

  ask(YES B) + ask(NO A),  where ask(NO A) = 1 - bid(YES A)

(one binary book per market). A pair is a candidate in a snapshot when both
rungs have a row in it, B has a YES ask and A has a YES bid; it is counted
when the cost is strictly below 1. A cost of exactly 1 is a tie, printed
separately. No size test (the recording has no sizes). Fees: the Polymarket
schedule, rate x p x (1 - p) per leg of 1 share rounded down to 0.00001, at
rate 0 (fee-free) unless --rate is given.

Printed: the number of (snapshot, pair) hits, the number of snapshots with at
least one hit, and the hits of each pair.

Usage: polymarketus_cpi_jul2026_count.py [CSV] [--rate R] [--list]
"""
import csv
import re
import sys
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

HEADER = ["ts_local_us", "slug", "bid", "ask", "segment"]
FEE_PLACES = Decimal("0.00001")
RUNG = re.compile(r"-gt(\d+)pt(\d+)pct$")


def fee(rate, price):
    return (rate * price * (1 - price)).quantize(FEE_PLACES, rounding=ROUND_DOWN)


def threshold(slug):
    m = RUNG.search(slug)
    if not m:
        sys.exit(f"not a ladder rung: {slug}")
    return Decimal(m.group(1) + "." + m.group(2))


def main(argv):
    path = Path(__file__).with_name("polymarketus_cpi_jul2026.csv")
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

    polls = {}
    slugs = set()
    with open(path, newline="") as f:
        rd = csv.reader(f)
        if next(rd) != HEADER:
            sys.exit("unexpected header")
        for ts, slug, bid, ask, _ in rd:
            slugs.add(slug)
            polls.setdefault(int(ts), {})[slug] = (
                Decimal(bid) if bid else None,
                Decimal(ask) if ask else None,
            )
    rungs = sorted(slugs, key=threshold)
    # (A, B): A the higher threshold, B the lower; A implies B.
    pairs = [(rungs[j], rungs[i]) for i in range(len(rungs)) for j in range(i + 1, len(rungs))]
    per = {p: [0, 0, 0, 0] for p in pairs}  # candidates, hits, hits after fees, ties
    hit_snaps = hit_snaps_fee = 0
    best = None
    hits = []
    for ts in sorted(polls):
        p = polls[ts]
        any_hit = any_hit_fee = False
        for a, b in pairs:
            if a not in p or b not in p:
                continue
            bid_a, ask_b = p[a][0], p[b][1]
            if bid_a is None or ask_b is None:
                continue
            no_a = 1 - bid_a
            cost = ask_b + no_a
            c = per[(a, b)]
            c[0] += 1
            best = cost if best is None else min(best, cost)
            if cost < 1:
                c[1] += 1
                any_hit = True
                hits.append((ts, a, b, ask_b, no_a, cost))
            elif cost == 1:
                c[3] += 1
            if cost + fee(rate, ask_b) + fee(rate, no_a) < 1:
                c[2] += 1
                any_hit_fee = True
        hit_snaps += any_hit
        hit_snaps_fee += any_hit_fee

    def short(s):
        return "above " + str(threshold(s)) + "%"

    tot = [sum(c[k] for c in per.values()) for k in range(4)]
    print(f"file: {path.name}")
    print(f"rungs: {len(rungs)} ({', '.join(str(threshold(s)) for s in rungs)})")
    print(f"snapshots: {len(polls)}")
    print(f"pairs: {len(pairs)} (every A above B; A implies B)")
    print(f"implication (ask YES B + ask NO A < 1): {tot[1]} pair-snapshots before fees, "
          f"{tot[2]} after fees (rate {rate}); ties {tot[3]}; candidates {tot[0]}; cheapest {best}")
    print(f"snapshots with at least one: {hit_snaps} before fees, {hit_snaps_fee} after fees")
    print("per pair (A => B): hits before fees / after fees / ties / candidates")
    for a, b in pairs:
        c = per[(a, b)]
        if c[1] or c[3]:
            print(f"  {short(a)} => {short(b)}: {c[1]} / {c[2]} / {c[3]} / {c[0]}")
    print("  every other pair: no hit and no tie")
    if listing:
        for ts, a, b, ask_b, no_a, cost in hits:
            print(f"  {ts} {short(a)} => {short(b)}: ask YES B {ask_b} + ask NO A {no_a} = {cost}")


if __name__ == "__main__":
    main(sys.argv[1:])
