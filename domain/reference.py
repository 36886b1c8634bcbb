"""Guangdong reference data: prefectures, river basins, sectors, indicator kinds.

Zone codes are stable upper-case identifiers used in instrument codes and serial numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import InconsistentReference, UnknownReference

PROVINCE = "GD"

PREFECTURES: dict[str, str] = {
    "GUANGZHOU": "Guangzhou", "SHENZHEN": "Shenzhen", "ZHUHAI": "Zhuhai", "SHANTOU": "Shantou",
    "FOSHAN": "Foshan", "SHAOGUAN": "Shaoguan", "HEYUAN": "Heyuan", "MEIZHOU": "Meizhou",
    "HUIZHOU": "Huizhou", "SHANWEI": "Shanwei", "DONGGUAN": "Dongguan", "ZHONGSHAN": "Zhongshan",
    "JIANGMEN": "Jiangmen", "YANGJIANG": "Yangjiang", "ZHANJIANG": "Zhanjiang",
    "MAOMING": "Maoming", "ZHAOQING": "Zhaoqing", "QINGYUAN": "Qingyuan", "CHAOZHOU": "Chaozhou",
    "JIEYANG": "Jieyang", "YUNFU": "Yunfu",
}

# Basin code -> (name, prefectures it runs through). The first six are the plan's priority
# basins. An enterprise's basin must be one that runs through its prefecture
# (`check_basin_runs_through`); every prefecture lies in at least one basin.
BASINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "DANSHUI": ("Danshui River", ("SHENZHEN", "HUIZHOU")),
    "SHIMA": ("Shima River", ("DONGGUAN", "SHENZHEN")),
    "GUANGFO": ("Guangzhou-Foshan cross-border rivers", ("GUANGZHOU", "FOSHAN")),
    "MAOZHOU": ("Maozhou River", ("SHENZHEN", "DONGGUAN")),
    "LIANJIANG": ("Lianjiang River", ("SHANTOU", "JIEYANG")),
    "XIAODONG": ("Xiaodong River", ("MAOMING",)),
    "XIJIANG": ("Xi River (Pearl River system)",
                ("ZHAOQING", "YUNFU", "JIANGMEN", "FOSHAN", "ZHONGSHAN", "ZHUHAI")),
    "BEIJIANG": ("Bei River (Pearl River system)",
                 ("SHAOGUAN", "QINGYUAN", "FOSHAN", "GUANGZHOU")),
    "DONGJIANG": ("Dong River (Pearl River system)",
                  ("HEYUAN", "HUIZHOU", "DONGGUAN", "GUANGZHOU", "SHENZHEN", "SHAOGUAN")),
    "HANJIANG": ("Han River", ("MEIZHOU", "CHAOZHOU", "SHANTOU")),
    "JIANJIANG": ("Jian River", ("MAOMING", "ZHANJIANG")),
    "RONGJIANG": ("Rong River", ("JIEYANG", "SHANTOU")),
    "MOYANG": ("Moyang River", ("YANGJIANG",)),
    "EAST_COAST": ("Eastern coastal rivers (Huangjiang, Luhe)", ("SHANWEI",)),
}

SECTORS: dict[str, str] = {
    "THERMAL_POWER": "Thermal power",
    "PETROCHEMICAL": "Petrochemical and chemical",
    "IRON_STEEL": "Iron and steel",
    "NONFERROUS": "Non-ferrous metals",
    "BUILDING_MATERIALS": "Building materials",
    "PAPER": "Papermaking",
    "TEXTILE_DYEING": "Textile printing and dyeing",
    "ELECTRONICS": "Electronics",
    "APPLIANCES": "Household appliances",
    "AUTOMOBILES": "Automobiles",
}


@dataclass(frozen=True)
class KindInfo:
    code: str
    family: str  # "water" | "air" | "energy"
    unit: str  # smallest stored unit
    display_unit: str  # unit of the plan's figures; 1 display unit = 1000 stored units


KINDS: dict[str, KindInfo] = {
    "COD": KindInfo("COD", "water", "kg", "t"),
    "NH3N": KindInfo("NH3N", "water", "kg", "t"),
    "NOX": KindInfo("NOX", "air", "kg", "t"),
    "SO2": KindInfo("SO2", "air", "kg", "t"),
    "VOC": KindInfo("VOC", "air", "kg", "t"),
    "ENERGY": KindInfo("ENERGY", "energy", "kgce", "tce"),
}


def kind_info(kind: str) -> KindInfo:
    try:
        return KINDS[kind]
    except KeyError:
        raise UnknownReference(f"unknown indicator kind {kind!r}; known: {sorted(KINDS)}") from None


def check_prefecture(code: str) -> str:
    if code not in PREFECTURES:
        raise UnknownReference(f"unknown prefecture {code!r}")
    return code


def check_basin(code: str) -> str:
    if code not in BASINS:
        raise UnknownReference(f"unknown river basin {code!r}")
    return code


def check_basin_runs_through(basin: str, prefecture: str) -> None:
    """Refuse a basin that does not run through the prefecture (a Zhanjiang plant cannot
    discharge into the Maozhou River)."""
    check_basin(basin)
    check_prefecture(prefecture)
    name, cities = BASINS[basin]
    if prefecture not in cities:
        raise InconsistentReference(
            f"the {name} ({basin}) does not run through {PREFECTURES[prefecture]}; basins "
            f"there: {sorted(b for b, (_, c) in BASINS.items() if prefecture in c)}")


def check_sector(code: str) -> str:
    if code not in SECTORS:
        raise UnknownReference(f"unknown sector {code!r}")
    return code
