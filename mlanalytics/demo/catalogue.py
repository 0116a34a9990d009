"""The demo shop's master data: stores, skills, device models, repair types, parts, suppliers and
technicians, generated reproducibly from a seed. Pure Python/numpy, no Django."""
from dataclasses import dataclass, field
from datetime import date, timedelta


SCALES = {
    # stores, years of history, new customers, target parts, suppliers, technicians per store
    "tiny": dict(stores=2, years=2, customers=400, parts=60, suppliers=6, technicians_per_store=2),  # a test's own shop
    "small": dict(stores=2, years=2, customers=5000, parts=130, suppliers=6, technicians_per_store=5),
    "demo": dict(stores=5, years=3, customers=20000, parts=400, suppliers=12, technicians_per_store=5),
    "large": dict(stores=50, years=3, customers=333000, parts=5000, suppliers=40, technicians_per_store=5),
}

# Opening hours of every demo store, ISO weekday -> [opens, closes] (same shape as Store.opening_hours).
OPENING_HOURS = {**{str(d): ["09:00", "18:00"] for d in range(1, 6)}, "6": ["09:00", "17:30"], "7": ["10:00", "16:00"]}

STORE_NAMES = [
    ("LON1", "London Camden", "London"), ("MAN1", "Manchester Arndale", "Manchester"),
    ("BHM1", "Birmingham Bullring", "Birmingham"), ("LDS1", "Leeds Briggate", "Leeds"),
    ("BRS1", "Bristol Broadmead", "Bristol"), ("GLA1", "Glasgow Buchanan", "Glasgow"),
    ("LIV1", "Liverpool One", "Liverpool"), ("NCL1", "Newcastle Eldon", "Newcastle"),
    ("SHF1", "Sheffield Moor", "Sheffield"), ("NOT1", "Nottingham Victoria", "Nottingham"),
    ("LEI1", "Leicester Highcross", "Leicester"), ("CDF1", "Cardiff Queen St", "Cardiff"),
    ("EDI1", "Edinburgh Princes St", "Edinburgh"), ("SOU1", "Southampton WestQuay", "Southampton"),
    ("BTN1", "Brighton Churchill", "Brighton"), ("OXF1", "Oxford Westgate", "Oxford"),
    ("CAM1", "Cambridge Grand Arcade", "Cambridge"), ("YRK1", "York Coney St", "York"),
    ("RDG1", "Reading Oracle", "Reading"), ("MKN1", "Milton Keynes Centre", "Milton Keynes"),
]

SKILLS = [
    ("phone", "Phone repair"), ("tablet", "Tablet repair"), ("laptop", "Laptop repair"),
    ("console", "Console repair"), ("watch", "Watch repair"), ("microsoldering", "Micro-soldering"),
]

# Category: share of device models, part kinds each model has, brands and name stems.
CATEGORIES = {
    "phone": dict(model_share=0.55, part_kinds=["screen", "battery", "port", "camera", "back_glass"],
                  brands={"Apple": ["iPhone"], "Samsung": ["Galaxy S", "Galaxy A", "Galaxy Z Flip"], "Google": ["Pixel"],
                          "Xiaomi": ["Redmi Note"], "OnePlus": ["OnePlus"], "Motorola": ["Moto G"]}),
    "tablet": dict(model_share=0.13, part_kinds=["screen", "battery", "port"],
                   brands={"Apple": ["iPad", "iPad Air", "iPad Pro"], "Samsung": ["Galaxy Tab S", "Galaxy Tab A"], "Lenovo": ["Tab P"]}),
    "laptop": dict(model_share=0.14, part_kinds=["screen", "battery", "keyboard"],
                   brands={"Apple": ["MacBook Air", "MacBook Pro"], "Dell": ["XPS", "Inspiron"], "HP": ["Pavilion", "EliteBook"],
                           "Lenovo": ["ThinkPad T", "IdeaPad"]}),
    "console": dict(model_share=0.07, part_kinds=["port", "drive", "board"],
                    brands={"Sony": ["PlayStation"], "Microsoft": ["Xbox Series"], "Nintendo": ["Switch"]}),
    "watch": dict(model_share=0.11, part_kinds=["screen", "battery"],
                  brands={"Apple": ["Watch Series", "Watch SE"], "Samsung": ["Galaxy Watch"], "Garmin": ["Forerunner"]}),
}
SUFFIXES = ["", " Plus", " Pro", " Lite", " Max", " Mini", " FE", " Ultra"]

PART_KIND_LABEL = {
    ("phone", "screen"): "OLED screen assembly", ("phone", "battery"): "battery", ("phone", "port"): "charging port flex",
    ("phone", "camera"): "rear camera module", ("phone", "back_glass"): "back glass",
    ("tablet", "screen"): "screen digitiser", ("tablet", "battery"): "battery", ("tablet", "port"): "charging port",
    ("laptop", "screen"): "LCD panel", ("laptop", "battery"): "battery", ("laptop", "keyboard"): "keyboard",
    ("console", "port"): "HDMI port", ("console", "drive"): "disc drive / fan unit", ("console", "board"): "joystick module",
    ("watch", "screen"): "display", ("watch", "battery"): "battery",
}
PART_CATEGORY = {"screen": "screen", "battery": "battery", "port": "port", "camera": "camera", "back_glass": "back_glass",
                 "keyboard": "keyboard", "drive": "drive", "board": "board"}
# Cost range (GBP) by category and part kind, for a mid-tier model; premium ×1.6, budget ×0.6.
PART_COST = {
    ("phone", "screen"): (35, 60), ("phone", "battery"): (9, 16), ("phone", "port"): (6, 11), ("phone", "camera"): (16, 32),
    ("phone", "back_glass"): (10, 20), ("tablet", "screen"): (45, 90), ("tablet", "battery"): (18, 30), ("tablet", "port"): (8, 14),
    ("laptop", "screen"): (60, 120), ("laptop", "battery"): (30, 55), ("laptop", "keyboard"): (25, 50),
    ("console", "port"): (4, 8), ("console", "drive"): (28, 45), ("console", "board"): (4, 7),
    ("watch", "screen"): (40, 80), ("watch", "battery"): (10, 18),
}

# Generic parts shared by many repairs: (sku, name, category, unit cost, pack size).
CONSUMABLES = [
    ("CON-ADH-PH", "Display adhesive, phone", "consumable", 0.60, 20),
    ("CON-ADH-BAT", "Battery adhesive strips", "consumable", 0.45, 20),
    ("CON-THERM-4G", "Thermal paste 4 g", "consumable", 3.20, 10),
    ("CON-IPA-1L", "Isopropyl alcohol 99.9% 1 L", "consumable", 7.50, 6),
    ("CON-SCREW-CON", "Console screw set", "consumable", 2.10, 10),
    ("STO-SSD-256", "NVMe SSD 256 GB", "storage", 24.00, 1),
    ("STO-SSD-512", "NVMe SSD 512 GB", "storage", 34.00, 1),
    ("STO-SSD-1TB", "NVMe SSD 1 TB", "storage", 55.00, 1),
    ("STO-SSD-2TB", "NVMe SSD 2 TB", "storage", 98.00, 1),
    ("CON-GASKET-W", "Watch gasket set", "consumable", 1.80, 10),
    ("CON-FLUX", "No-clean flux 10 ml", "consumable", 4.50, 5),
    ("CON-SOLDER", "Solder wire 0.3 mm", "consumable", 6.20, 5),
]

# Repair types: code, name, category, labour minutes, list price, SLA hours, skills, mix weight,
# parts: model part kinds and consumable SKUs ("SSD" = one of the SSD sizes).
REPAIR_TYPES = [
    ("phone-screen", "Phone screen replacement", "phone", 55, 129, 48, ["phone"], 0.38, ["screen"], ["CON-ADH-PH"]),
    ("phone-battery", "Phone battery replacement", "phone", 35, 69, 48, ["phone"], 0.22, ["battery"], ["CON-ADH-BAT"]),
    ("phone-port", "Phone charging port repair", "phone", 45, 59, 48, ["phone"], 0.12, ["port"], []),
    ("phone-camera", "Phone rear camera replacement", "phone", 50, 89, 72, ["phone"], 0.06, ["camera"], []),
    ("phone-back-glass", "Phone back glass replacement", "phone", 80, 99, 72, ["phone"], 0.08, ["back_glass"], ["CON-ADH-PH"]),
    ("phone-water", "Phone water damage treatment", "phone", 90, 79, 96, ["phone", "microsoldering"], 0.08, [], ["CON-IPA-1L"]),
    ("phone-diagnostic", "Phone diagnostic", "phone", 20, 25, 24, ["phone"], 0.06, [], []),
    ("tablet-screen", "Tablet screen replacement", "tablet", 90, 149, 72, ["tablet"], 0.5, ["screen"], []),
    ("tablet-battery", "Tablet battery replacement", "tablet", 60, 89, 72, ["tablet"], 0.3, ["battery"], []),
    ("tablet-port", "Tablet charging port repair", "tablet", 50, 69, 72, ["tablet"], 0.2, ["port"], []),
    ("laptop-screen", "Laptop screen replacement", "laptop", 70, 189, 96, ["laptop"], 0.25, ["screen"], []),
    ("laptop-battery", "Laptop battery replacement", "laptop", 40, 99, 72, ["laptop"], 0.25, ["battery"], []),
    ("laptop-keyboard", "Laptop keyboard replacement", "laptop", 80, 119, 96, ["laptop"], 0.2, ["keyboard"], []),
    ("laptop-ssd", "Laptop SSD upgrade and data transfer", "laptop", 45, 129, 72, ["laptop"], 0.15, [], ["SSD"]),
    ("laptop-motherboard", "Laptop motherboard repair", "laptop", 150, 249, 168, ["laptop", "microsoldering"], 0.15, [], ["CON-FLUX", "CON-SOLDER"]),
    ("console-hdmi", "Console HDMI port replacement", "console", 75, 89, 96, ["console", "microsoldering"], 0.35, ["port"], ["CON-FLUX"]),
    ("console-drive", "Console disc drive / fan replacement", "console", 60, 79, 96, ["console"], 0.2, ["drive"], ["CON-SCREW-CON"]),
    ("console-controller", "Controller stick drift repair", "console", 30, 39, 48, ["console"], 0.25, ["board"], []),
    ("console-clean", "Console deep clean and thermal paste", "console", 45, 49, 48, ["console"], 0.2, [], ["CON-THERM-4G"]),
    ("watch-screen", "Watch screen replacement", "watch", 60, 119, 96, ["watch"], 0.55, ["screen"], ["CON-GASKET-W"]),
    ("watch-battery", "Watch battery replacement", "watch", 40, 69, 72, ["watch"], 0.45, ["battery"], ["CON-GASKET-W"]),
]
HIGH_VARIANCE_REPAIR_TYPE = "laptop-motherboard"
CATEGORY_SHARE = {"phone": 0.62, "tablet": 0.10, "laptop": 0.14, "console": 0.08, "watch": 0.06}

SUPPLIER_NAMES = [
    "Phoenix Parts", "Union Components", "Thames Spares", "Northern Repair Supply", "Apex Screens",
    "Volt Batteries UK", "Midland Micro", "Citadel Parts", "Harbour Trade Supply", "Quayside Components",
    "PrimeParts Direct", "Eastgate Electronics",
]
LATE_SUPPLIER = "quayside-components"
PREMIUM_SUPPLIER = "primeparts-direct"

FIRST_NAMES = ["Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Noah", "Mia", "Jack", "Ivy", "Leo", "Lily",
               "Arthur", "Freya", "Muhammad", "Florence", "Oscar", "Willow", "Charlie", "Emily", "Jacob", "Sophia",
               "Thomas", "Grace", "Alfie", "Evie", "Henry", "Poppy", "Theo", "Ella", "Archie", "Rosie", "Joshua",
               "Chloe", "James", "Daisy", "William", "Alice", "Samuel", "Sienna", "Priya", "Aisha", "Ravi", "Zara",
               "Tomasz", "Ana", "Kwame", "Mei", "Sean", "Niamh", "Rhys", "Cerys", "Callum", "Eilidh"]
LAST_NAMES = ["Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel", "Robinson",
              "Wright", "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Thomas", "Clarke",
              "Jackson", "Wood", "Harris", "Edwards", "Turner", "Martin", "Cooper", "Hill", "Ward", "Hughes",
              "Moore", "Clark", "King", "Harrison", "Lewis", "Baker", "Lee", "Allen", "Morris", "Khan", "Ali",
              "Scott", "Watson", "Young", "Mitchell", "Kowalski", "Singh", "Chen", "Okafor", "Murphy", "MacDonald"]
TECH_FIRST = ["Sam", "Alex", "Jordan", "Casey", "Morgan", "Riley", "Jamie", "Taylor", "Charlie", "Robin", "Drew",
              "Kai", "Reece", "Ellis", "Jess", "Dan", "Nadia", "Omar", "Hannah", "Luca", "Ben", "Katie", "Ryan", "Sofia", "Mo"]


@dataclass
class DeviceModelSpec:
    index: int
    category: str
    brand: str
    model_name: str
    released_on: date
    tier: float  # price tier factor: budget 0.6, mid 1.0, premium 1.6
    popularity: float
    dead_after: date | None = None  # planted dead stock: nobody brings this model in after this date


@dataclass
class PartSpec:
    index: int
    sku: str
    name: str
    category: str
    device_model: int | None
    kind: str | None
    unit_cost: float
    price: float
    min_order_qty: int
    pack_size: int


@dataclass
class SupplierSpec:
    index: int
    code: str
    name: str
    quoted_lead_time_days: int
    order_cost: float
    defect_rate: float
    late_mean_days: float  # mean extra days beyond the quote
    price_factor: float
    categories: set = field(default_factory=set)


@dataclass
class TechnicianSpec:
    index: int
    code: str
    name: str
    store: int
    skills: list
    hourly_cost: float
    efficiency: float
    works_on: set
    qa_fail_rate: float
    comeback_rate: float


@dataclass
class Catalogue:
    stores: list
    skills: list
    device_models: list
    repair_types: list
    parts: list
    suppliers: list
    prices: list  # (supplier index, part index, unit price, moq, pack, lead time)
    technicians: list
    out_of_control_technician: str
    category_model_index: dict  # category -> list of model indices
    part_for: dict  # (model index, kind) -> part index
    consumable_index: dict  # sku -> part index


def _slug(text):
    return "".join(ch.lower() if ch.isalnum() else "-" for ch in text).strip("-").replace("--", "-")


def build_catalogue(rng, scale, start: date, end: date):
    cfg = SCALES[scale]
    stores = []
    for i in range(cfg["stores"]):
        if i < len(STORE_NAMES):
            code, name, city = STORE_NAMES[i]
        else:
            base = STORE_NAMES[i % len(STORE_NAMES)]
            code, name, city = f"{base[0][:3]}{i // len(STORE_NAMES) + 1}", f"{base[1]} {i // len(STORE_NAMES) + 1}", base[2]
        stores.append(dict(index=i, code=code, name=name, city=city, weight=float(rng.uniform(0.6, 1.4)) if i >= 5 else [1.35, 1.15, 1.0, 0.85, 0.65][i]))

    # Device models: enough to reach the target number of parts.
    per_model = sum(c["model_share"] * len(c["part_kinds"]) for c in CATEGORIES.values())
    n_models = max(int(round((cfg["parts"] - len(CONSUMABLES)) / per_model)), 12)
    device_models = []
    category_model_index = {}
    history_days = (end - start).days
    for category, spec in CATEGORIES.items():
        n = max(2, int(round(n_models * spec["model_share"])))
        names = set()
        brands = list(spec["brands"].items())
        k = 0
        while len(names) < n:
            brand, stems = brands[k % len(brands)]
            stem = stems[(k // len(brands)) % len(stems)]
            number = 5 + (k // (len(brands) * len(stems))) % 12
            suffix = SUFFIXES[(k // (len(brands) * len(stems) * 12)) % len(SUFFIXES)]
            generation = k // (len(brands) * len(stems) * 12 * len(SUFFIXES))
            name = f"{stem} {number}{suffix}" + (f" Gen {generation + 2}" if generation else "")
            names.add((brand, name))
            k += 1
        category_model_index[category] = []
        # Zipf popularity by a random rank: a few models are most of the work, many are rare (slow movers).
        ranks = rng.permutation(len(names))
        for position, (brand, name) in enumerate(sorted(names)):
            released = start - timedelta(days=3 * 365) + timedelta(days=int(rng.integers(0, 3 * 365 + history_days - 120)))
            tier = float(rng.choice([0.6, 1.0, 1.6], p=[0.3, 0.45, 0.25]))
            popularity = float(1.0 / (1 + ranks[position]) ** 1.1)
            index = len(device_models)
            device_models.append(DeviceModelSpec(index, category, brand, name, released, tier, popularity))
            category_model_index[category].append(index)

    # Planted dead stock: ~5% of models (older ones) that nobody brings in for the last 15 months.
    dead_after = end - timedelta(days=460)
    candidates = [m for m in device_models if m.released_on < start]
    rng.shuffle(candidates)
    for model in candidates[: max(2, len(device_models) // 20)]:
        model.dead_after = dead_after
        model.popularity = max(model.popularity, 0.35)  # they were busy once, so stock was bought for them

    parts = []
    part_for = {}
    for model in device_models:
        for kind in CATEGORIES[model.category]["part_kinds"]:
            low, high = PART_COST[(model.category, kind)]
            cost = round(float(rng.uniform(low, high)) * model.tier, 2)
            index = len(parts)
            sku = f"{model.category[:2].upper()}-{_slug(model.brand)[:4].upper()}-{index:05d}-{kind[:3].upper()}"
            name = f"{model.brand} {model.model_name} {PART_KIND_LABEL[(model.category, kind)]}"
            pack = 1 if cost > 8 else 5
            parts.append(PartSpec(index, sku, name, PART_CATEGORY[kind], model.index, kind, cost,
                                  round(cost * float(rng.uniform(1.7, 2.2)), 2), 1, pack))
            part_for[(model.index, kind)] = index
    consumable_index = {}
    for sku, name, category, cost, pack in CONSUMABLES:
        index = len(parts)
        parts.append(PartSpec(index, sku, name, category, None, None, cost, round(cost * 2.0, 2), pack, pack))
        consumable_index[sku] = index

    suppliers = []
    names = list(SUPPLIER_NAMES)
    while len(names) < cfg["suppliers"]:
        names.append(f"{SUPPLIER_NAMES[len(names) % len(SUPPLIER_NAMES)]} {len(names) // len(SUPPLIER_NAMES) + 1}")
    names = names[: cfg["suppliers"]]
    if "Quayside Components" not in names:
        names[-2] = "Quayside Components"
    if "PrimeParts Direct" not in names:
        names[-1] = "PrimeParts Direct"
    all_categories = sorted({p.category for p in parts})
    for i, name in enumerate(names):
        code = _slug(name)
        late = code == LATE_SUPPLIER
        premium = code == PREMIUM_SUPPLIER
        covered = set(all_categories) if (late or premium or i % 3 == 0) else set(rng.choice(all_categories, size=max(3, len(all_categories) // 2), replace=False))
        suppliers.append(SupplierSpec(
            index=i, code=code, name=name,
            quoted_lead_time_days=3 if late else int(rng.integers(2, 6)),
            order_cost=float(rng.choice([10, 12.5, 15, 20])),
            defect_rate=float(rng.uniform(0.004, 0.02)) if not late else 0.03,
            late_mean_days=5.5 if late else 0.25,
            price_factor=1.32 if premium else (0.93 if late else float(rng.uniform(0.96, 1.10))),
            categories=covered,
        ))

    prices = []
    for part in parts:
        qualified = [s for s in suppliers if part.category in s.categories]
        if len(qualified) > 4:
            keep = {s.code for s in qualified if s.code in (LATE_SUPPLIER, PREMIUM_SUPPLIER)}
            others = [s for s in qualified if s.code not in keep]
            chosen = list(rng.choice(len(others), size=min(2, len(others)), replace=False))
            qualified = [s for s in qualified if s.code in keep] + [others[j] for j in chosen]
        for s in qualified:
            price = round(part.unit_cost * s.price_factor * float(rng.uniform(0.98, 1.02)), 2)
            prices.append((s.index, part.index, price, part.min_order_qty, part.pack_size, s.quoted_lead_time_days))

    technicians = []
    for store in stores:
        for j in range(cfg["technicians_per_store"]):
            index = len(technicians)
            # Each has 2-4 category skills; the first two of a store cover phones, someone solders.
            skills = {"phone"} if j < 3 else set()
            extra = list(rng.choice(["tablet", "laptop", "console", "watch"], size=int(rng.integers(1, 4)), replace=False))
            skills.update(extra)
            if j in (0, 3) or rng.random() < 0.2:
                skills.add("microsoldering")
            if j == 4:
                skills.update({"laptop", "console"})
            days_off = set(rng.choice([1, 2, 3, 4, 5, 6, 7], size=2, replace=False).tolist()) if j % 2 == 0 else {7, int(rng.integers(1, 6))}
            first = TECH_FIRST[index % len(TECH_FIRST)]
            last = LAST_NAMES[(index * 7) % len(LAST_NAMES)]
            technicians.append(TechnicianSpec(
                index=index, code=f"{store['code'].lower()}-{_slug(first)}-{index}", name=f"{first} {last}",
                store=store["index"], skills=sorted(skills), hourly_cost=round(float(rng.uniform(15.5, 27.0)), 2),
                efficiency=float(rng.uniform(0.88, 1.15)), works_on={d for d in range(1, 8)} - days_off,
                qa_fail_rate=0.04, comeback_rate=0.03,
            ))
    # Planted: one technician in the second store is out of control on quality.
    bad = next(t for t in technicians if t.store == min(1, len(stores) - 1) and "phone" in t.skills)
    bad.qa_fail_rate, bad.comeback_rate = 0.18, 0.15

    return Catalogue(
        stores=stores, skills=SKILLS, device_models=device_models, repair_types=REPAIR_TYPES, parts=parts,
        suppliers=suppliers, prices=prices, technicians=technicians, out_of_control_technician=bad.code,
        category_model_index=category_model_index, part_for=part_for, consumable_index=consumable_index,
    )
