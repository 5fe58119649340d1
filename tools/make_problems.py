"""Seeded generator of arithmetic word-problem families, each problem with its answer and a program that
computes it from the problem's quantities (`metadata.program`, for the simulated models; the team never
sees metadata).

Two sets, generated once and committed:
- `tests/data/sim_dev.jsonl` (dev): the twelve shapes of the hand-written family set
  (`tests/data/families.jsonl`), 10 instances each. Rules are chosen on the dev sets.
- `tests/data/sim_dev_novel.jsonl` (dev): ten shapes no seed-bank program has (as the test set's), 8
  instances each: where a rule meets the wrong analogies that novel shapes draw, before anyone reports.
- `tests/data/heldout.jsonl` (test): sixteen shapes that no seed-bank program has and no rule was written
  for, 8 instances each, in order (every family's first instance, then every second, ...). Nothing is tuned
  on it; it reports.
- `tests/data/learning_test.jsonl` (test): the learning report's set, the test set's first twelve families
  x their first four instances, in the same order (48 problems: what the embedded model can run in each
  memory mode in an hour on two cores).

    python tools/make_problems.py            # writes the files (seed 2026)
    python tools/make_problems.py --check    # fails if the committed files differ from what the seed gives
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

Values = dict[str, int]
ROOT = Path(__file__).resolve().parents[1]
SEED = 2026


@dataclass(frozen=True)
class Family:
    """A shape of problem: texts with `{name}` slots, a sampler of the slots' values, and the program's last
    line, an expression over the named quantities (each slot is one `name = value` line before it)."""

    name: str
    texts: tuple[str, ...]
    sample: Callable[[random.Random], Values]
    compute: str
    names: tuple[str, ...] = ()  # the slots the program names (default: every slot, in order)


def _r(rng: random.Random, low: int, high: int) -> int:
    return rng.randint(low, high)


def _meeting(rng: random.Random) -> Values:
    a, b, t = _r(rng, 40, 90), _r(rng, 30, 80), _r(rng, 2, 6)
    return {"distance_km": (a + b) * t, "car_speed": a, "truck_speed": b}


def _savings(rng: random.Random) -> Values:
    saved, weekly, weeks = _r(rng, 10, 200), _r(rng, 5, 30), _r(rng, 3, 20)
    return {"saved": saved, "weekly": weekly, "target": saved + weekly * weeks}


def _fence(rng: random.Random) -> Values:
    gap = _r(rng, 2, 6)
    return {"length_m": gap * _r(rng, 5, 30), "gap_m": gap}


def _ratio(rng: random.Random) -> Values:
    a, b = rng.sample(range(1, 8), 2)
    unit = _r(rng, 10, 100)
    return {"prize": (a + b) * unit, "ana_share": a, "ben_share": b}


def _tiles(rng: random.Random) -> Values:
    side = rng.choice([10, 20, 25, 30, 40, 50])
    return {"length_cm": side * _r(rng, 5, 20), "width_cm": side * _r(rng, 4, 15), "tile_cm": side}


def _consecutive(rng: random.Random) -> Values:
    return {"total": 3 * _r(rng, 5, 200) + 3}


def _square(rng: random.Random) -> Values:
    return {"area": _r(rng, 5, 40) ** 2}


def _profit(rng: random.Random) -> Values:
    cost = _r(rng, 2, 9)
    return {"melons": _r(rng, 10, 60), "buy_price": cost, "sell_price": cost + _r(rng, 1, 8)}


def _interest(rng: random.Random) -> Values:
    return {"rate": _r(rng, 2, 9), "deposit": 100 * _r(rng, 2, 50), "years": _r(rng, 2, 8)}


TEST = [
    Family("box_volume", (
        "A storage box is {length_cm} cm long, {width_cm} cm wide and {height_cm} cm high. What is its volume in "
        "cubic centimeters?",
        "How many cubic centimeters of sand fill a crate {length_cm} cm long, {width_cm} cm wide and {height_cm} cm "
        "deep to the top?",
    ), lambda rng: {"length_cm": _r(rng, 10, 40), "width_cm": _r(rng, 5, 20), "height_cm": _r(rng, 3, 15)},
        "length_cm * width_cm * height_cm"),
    Family("profit", (
        "A vendor buys {melons} melons at {buy_price} dollars each and sells all of them at {sell_price} dollars "
        "each. How many dollars of profit does she make?",
        "Raj paid {buy_price} dollars apiece for {melons} melons and sold every one for {sell_price} dollars. What "
        "was his profit in dollars?",
    ), _profit, "melons * (sell_price - buy_price)"),
    Family("meeting_time", (
        "Two towns are {distance_km} km apart. A car leaves one town at {car_speed} km per hour while a truck "
        "leaves the other at {truck_speed} km per hour, driving toward each other. After how many hours do they "
        "meet?",
        "A cyclist and a bus start {distance_km} km apart and head toward each other, the cyclist at {car_speed} "
        "km per hour and the bus at {truck_speed} km per hour. How many hours pass before they meet?",
    ), _meeting, "distance_km / (car_speed + truck_speed)"),
    Family("savings_weeks", (
        "Nadia has {saved} dollars saved and puts away {weekly} dollars every week. After how many weeks will "
        "her savings reach {target} dollars?",
        "A club's fund holds {saved} dollars and grows by {weekly} dollars each week. In how many weeks will it "
        "hold {target} dollars?",
    ), _savings, "(target - saved) / weekly"),
    Family("fence_posts", (
        "A straight fence is {length_m} meters long, with a post at each end and one every {gap_m} meters in "
        "between. How many posts does it have?",
        "Lamps stand every {gap_m} meters along a straight path {length_m} meters long, including one at each "
        "end. How many lamps are there?",
    ), _fence, "length_m / gap_m + 1"),
    Family("handshakes", (
        "At a club meeting, each of the {members} members shakes hands exactly once with every other member. How "
        "many handshakes take place?",
        "In a chess tournament with {members} players, every player plays every other player once. How many "
        "games are played?",
    ), lambda rng: {"members": _r(rng, 5, 30)}, "members * (members - 1) / 2"),
    Family("simple_interest", (
        "A savings account pays {rate}% simple interest per year. How many dollars of interest does a deposit of "
        "{deposit} dollars earn in {years} years?",
        "Leo lends {deposit} dollars at {rate}% simple interest a year. How much interest, in dollars, is owed "
        "after {years} years?",
    ), _interest, "deposit * rate / 100 * years", names=("rate", "deposit", "years")),
    Family("ratio_split", (
        "A prize of {prize} dollars is shared between Ana and Ben in the ratio {ana_share} to {ben_share}. How "
        "many dollars does Ben receive?",
        "Ana and Ben split {prize} stickers in the ratio {ana_share}:{ben_share}. How many stickers does Ben get?",
    ), _ratio, "prize * ben_share / (ana_share + ben_share)"),
    Family("floor_tiles", (
        "A rectangular hall floor measures {length_cm} cm by {width_cm} cm. How many square tiles with "
        "{tile_cm} cm sides are needed to cover it exactly?",
        "Square tiles {tile_cm} cm on a side cover a patio {length_cm} cm long and {width_cm} cm wide with no "
        "gaps. How many tiles are used?",
    ), _tiles, "(length_cm / tile_cm) * (width_cm / tile_cm)", names=("length_cm", "width_cm", "tile_cm")),
    Family("temperature_rise", (
        "Early in the morning the thermometer read {start} degrees. The temperature then rose {rise} degrees "
        "every hour for {hours} hours. What did the thermometer read at the end?",
        "A pot of water at {start} degrees is heated so that it warms by {rise} degrees each minute. What is its "
        "temperature after {hours} minutes?",
    ), lambda rng: {"start": _r(rng, 1, 15), "rise": _r(rng, 1, 4), "hours": _r(rng, 2, 9)}, "start + rise * hours"),
    Family("load_weight", (
        "A truck carries {crates} crates weighing {crate_kg} kg each and {sacks} sacks weighing {sack_kg} kg "
        "each. What is the total weight of its load in kg?",
        "A boat takes on {crates} barrels of {crate_kg} kg and {sacks} boxes of {sack_kg} kg. How many kg of cargo "
        "is that in all?",
    ), lambda rng: {"crates": _r(rng, 5, 40), "crate_kg": _r(rng, 10, 60), "sacks": _r(rng, 3, 30),
                    "sack_kg": _r(rng, 15, 50)}, "crates * crate_kg + sacks * sack_kg"),
    Family("consecutive_sum", (
        "Three consecutive whole numbers add up to {total}. What is the largest of the three?",
        "The sum of three whole numbers in a row is {total}. Which is the biggest of them?",
    ), _consecutive, "total // 3 + 1"),
    Family("square_perimeter", (
        "A square courtyard has an area of {area} square meters. What is its perimeter in meters?",
        "A square tablecloth covers {area} square inches. How long is the trim around its edge, in inches?",
    ), _square, "4 * area ** 0.5"),
    Family("leg_count", (
        "A farm keeps {chickens} chickens and {goats} goats. How many legs do these animals have altogether?",
        "In a yard there are {chickens} ducks and {goats} dogs. How many legs are in the yard?",
    ), lambda rng: {"chickens": _r(rng, 3, 40), "goats": _r(rng, 2, 25)}, "2 * chickens + 4 * goats"),
    Family("plant_doubling", (
        "A vine is {start_cm} cm long and its length doubles every week. How long is it after {weeks} weeks, in "
        "cm?",
        "A colony of {start_cm} bacteria doubles in size every hour. How many bacteria are there after {weeks} "
        "hours?",
    ), lambda rng: {"start_cm": _r(rng, 2, 15), "weeks": _r(rng, 2, 6)}, "start_cm * 2 ** weeks"),
    Family("coin_jar", (
        "A jar holds {quarters} quarters and {dimes} dimes. How many cents are in the jar?",
        "Mia's purse has {quarters} quarters and {dimes} dimes. What is the value of these coins in cents?",
    ), lambda rng: {"quarters": _r(rng, 3, 40), "dimes": _r(rng, 2, 50)}, "25 * quarters + 10 * dimes"),
]  # fmt: skip


def _group_price(rng: random.Random) -> Values:
    size, price = _r(rng, 3, 8), _r(rng, 2, 12)
    return {"per_pack": size, "pack_price": price, "wanted": size * _r(rng, 3, 9)}


def _speed(rng: random.Random) -> Values:
    hours = _r(rng, 2, 6)
    return {"distance_km": hours * _r(rng, 12, 90), "hours": hours}


def _percent(rng: random.Random) -> Values:
    return {"percent": rng.choice([10, 15, 20, 25, 30, 40, 50, 60, 75]), "total": 20 * _r(rng, 2, 30)}


def _ceiling(rng: random.Random) -> Values:
    seats = _r(rng, 3, 9)
    return {"people": seats * _r(rng, 3, 12) + _r(rng, 1, seats - 1), "seats": seats}


def _remainder(rng: random.Random) -> Values:
    size = _r(rng, 4, 9)
    return {"items": size * _r(rng, 4, 15) + _r(rng, 1, size - 1), "size": size}


def _average(rng: random.Random) -> Values:
    while True:
        scores = [_r(rng, 60, 99) for _ in range(2)]
        third = 3 * _r(rng, 70, 90) - sum(scores)
        if 50 <= third <= 100:
            return {"first": scores[0], "second": scores[1], "third": third}


DEV = [
    Family("group_price", (
        "A shop sells pencils in packs of {per_pack} for {pack_price} dollars a pack. How many dollars do "
        "{wanted} pencils cost?",
    ), _group_price, "wanted / per_pack * pack_price"),
    Family("speed", ("A train covers {distance_km} km in {hours} hours at a steady pace. What is its speed in km "
                     "per hour?",), _speed, "distance_km / hours"),
    Family("percent_of", ("{percent}% of the {total} students in a school walk to class. How many students "
                          "walk?",), _percent, "percent / 100 * total"),
    Family("percent_change", ("A coat cost {total} dollars. Its price was raised by {percent}%. What does it cost "
                              "now, in dollars?",), _percent, "total + total * percent / 100",
           names=("total", "percent")),
    Family("equal_groups", ("There are {groups} crates with {each} apples in each crate. How many apples are there "
                            "in all?",), lambda rng: {"groups": _r(rng, 3, 15), "each": _r(rng, 4, 24)},
           "groups * each"),
    Family("ceiling_division", ("{people} campers go on a trip in vans that each hold {seats} campers. How many vans "
                                "are needed?",), _ceiling, "-(-people // seats)"),
    Family("remainder", ("{items} cookies are shared equally among {size} children, each getting as many as "
                         "possible. How many cookies are left over?",), _remainder, "items % size"),
    Family("totals_after_changes", ("Ivy had {had} stamps. She gave away {lost} of them and then bought {won} more. "
                                    "How many stamps does she have now?",),
           lambda rng: {"had": _r(rng, 40, 120), "lost": _r(rng, 5, 39), "won": _r(rng, 3, 30)}, "had - lost + won"),
    Family("unit_conversion", ("A concert lasts {hours} hours and {minutes} minutes. How many minutes long is it?",),
           lambda rng: {"hours": _r(rng, 1, 5), "minutes": _r(rng, 5, 55)}, "hours * 60 + minutes"),
    Family("rectangle_area", ("A yard is a rectangle {length} metres long and {width} metres wide. What is its area "
                              "in square metres?",), lambda rng: {"length": _r(rng, 6, 40), "width": _r(rng, 3, 25)},
           "length * width"),
    Family("average", ("Li scored {first}, {second} and {third} on three quizzes. What was her average score?",),
           _average, "(first + second + third) / 3"),
    Family("ages", ("Omar is {age} years old and his brother is {gap} years older than him. How old will his "
                    "brother be in {later} years?",),
           lambda rng: {"age": _r(rng, 4, 20), "gap": _r(rng, 2, 9), "later": _r(rng, 2, 10)}, "age + gap + later"),
]  # fmt: skip


def _work(rng: random.Random) -> Values:
    workers, days = _r(rng, 2, 12), _r(rng, 2, 12)
    others = rng.choice([d for d in range(2, 25) if (workers * days) % d == 0 and d != workers])
    return {"workers": workers, "days": days, "other_workers": others}


def _trip(rng: random.Random) -> Values:
    first_hours, second_hours, speed = _r(rng, 1, 4), _r(rng, 1, 4), _r(rng, 30, 90)
    first_km = first_hours * _r(rng, 30, 90)
    return {"first_km": first_km, "first_hours": first_hours,
            "second_km": speed * (first_hours + second_hours) - first_km, "second_hours": second_hours}


def _tank(rng: random.Random) -> Values:
    rate = _r(rng, 2, 25)
    return {"liters": rate * _r(rng, 5, 60), "rate": rate}


def _pages(rng: random.Random) -> Values:
    per_day, days = _r(rng, 5, 40), _r(rng, 2, 9)
    return {"pages": per_day * days + _r(rng, 10, 200), "per_day": per_day, "days": days}


def _seats(rng: random.Random) -> Values:
    rows, seats = _r(rng, 5, 20), _r(rng, 2, 6)
    return {"rows": rows, "seats": seats, "taken": _r(rng, 1, rows * seats - 1)}


DEV_NOVEL = [
    Family("triangle_area", ("A triangular sail has a base of {base} m and a height of {height} m. What is its "
                             "area in square meters?",),
           lambda rng: {"base": 2 * _r(rng, 2, 20), "height": _r(rng, 3, 25)}, "base * height / 2"),
    Family("work_rate", ("{workers} workers paint a fence in {days} days. Working at the same rate, how many days "
                         "would {other_workers} workers take?",), _work, "workers * days / other_workers"),
    Family("fence_perimeter", ("A paddock is {length} m long and {width} m wide. How many meters of fencing go all "
                               "the way around it?",), lambda rng: {"length": _r(rng, 10, 90), "width": _r(rng, 5, 60)},
           "2 * (length + width)"),
    Family("cube_volume", ("A cube-shaped box has edges {edge} cm long. What is its volume in cubic centimeters?",),
           lambda rng: {"edge": _r(rng, 3, 30)}, "edge ** 3"),
    Family("trip_average", ("A car drives {first_km} km in {first_hours} hours and then {second_km} km in "
                            "{second_hours} hours. What is its average speed for the trip in km per hour?",), _trip,
           "(first_km + second_km) / (first_hours + second_hours)"),
    Family("tank_drain", ("A tank holds {liters} liters of water and drains {rate} liters every minute. After how "
                          "many minutes is it empty?",), _tank, "liters / rate"),
    Family("pages_left", ("A novel has {pages} pages. Sue reads {per_day} pages every day for {days} days. How many "
                          "pages does she still have to read?",), _pages, "pages - per_day * days"),
    Family("mother_age", ("Nina is {age} years old and her mother is {times} times as old. How old will her mother "
                          "be in {later} years?",),
           lambda rng: {"age": _r(rng, 5, 14), "times": _r(rng, 2, 4), "later": _r(rng, 2, 15)}, "age * times + later"),
    Family("free_seats", ("A bus has {rows} rows of {seats} seats, and {taken} seats are taken. How many seats are "
                          "free?",), _seats, "rows * seats - taken"),
    Family("bottles", ("A jug holds {liters} liters of juice. How many full bottles of {ml} milliliters can be "
                       "poured from it?",),
           lambda rng: {"liters": _r(rng, 2, 12), "ml": rng.choice([150, 200, 250, 300, 400, 500, 750])},
           "liters * 1000 // ml"),
]  # fmt: skip


def program(family: Family, values: Values) -> str:
    names = family.names or tuple(values)
    return "\n".join([*(f"{name} = {values[name]}" for name in names), f"print({family.compute})"])


def run(code: str) -> str:
    """What a generated program prints (our own arithmetic, run here)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "<problem>", "exec"), {})
    return out.getvalue().strip()


def answer(printed: str) -> str:
    value = round(float(printed), 6)
    return str(int(value)) if value.is_integer() else str(value)


def generate(families: list[Family], instances: int, rng: random.Random, prefix: str) -> list[dict[str, object]]:
    """Every family's instance 0, then every instance 1, ...: the order a learning run solves them in."""
    rows: list[dict[str, object]] = []
    for i in range(instances):
        for family in families:
            for _ in range(100):  # a text whose numbers repeat would be ambiguous to name; draw again
                values = family.sample(rng)
                if len(set(values.values())) == len(values):
                    break
            text = family.texts[i % len(family.texts)].format(**values)
            code = program(family, values)
            rows.append({"id": f"{prefix}{family.name}-{i}", "problem": text, "answer": answer(run(code)),
                         "metadata": {"family": family.name, "program": code}})  # fmt: skip
    return rows


def render(rows: list[dict[str, object]]) -> str:
    return "".join(json.dumps(row) + "\n" for row in rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed files instead of writing")
    args = parser.parse_args()
    rng = random.Random(SEED)
    dev = generate(DEV, 10, rng, "dev-")
    test = generate(TEST, 8, rng, "")
    learning = {family.name for family in TEST[:12]}
    outputs = {
        ROOT / "tests/data/sim_dev.jsonl": render(dev),
        ROOT / "tests/data/heldout.jsonl": render(test),
        ROOT / "tests/data/sim_dev_novel.jsonl": render(generate(DEV_NOVEL, 8, rng, "novel-")),
        ROOT / "tests/data/learning_test.jsonl": render(
            [row for row in test if row["metadata"]["family"] in learning and int(str(row["id"]).rsplit("-")[-1]) < 4]  # type: ignore[index]
        ),
    }
    for path, text in outputs.items():
        if args.check:
            if path.read_text() != text:
                print(f"{path} differs from what seed {SEED} generates", file=sys.stderr)
                return 1
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(ROOT)} ({text.count(chr(10))} problems)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
