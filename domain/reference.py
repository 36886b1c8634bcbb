"""Guangdong reference data: prefectures, river basins, sectors, indicator kinds.

Zone codes are stable upper-case identifiers used in instrument codes and serial numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from domain.errors import UnknownReference

PROVINCE = "GD"

PREFECTURES: dict[str, str] = {
    "GUANGZHOU": "Guangzhou", "SHENZHEN": "Shenzhen", "ZHUHAI": "Zhuhai", "SHANTOU": "Shantou",
    "FOSHAN": "Foshan", "SHAOGUAN": "Shaoguan", "HEYUAN": "Heyuan", "MEIZHOU": "Meizhou",
    "HUIZHOU": "Huizhou", "SHANWEI": "Shanwei", "DONGGUAN": "Dongguan", "ZHONGSHAN": "Zhongshan",
    "JIANGMEN": "Jiangmen", "YANGJIANG": "Yangjiang", "ZHANJIANG": "Zhanjiang",
    "MAOMING": "Maoming", "ZHAOQING": "Zhaoqing", "QINGYUAN": "Qingyuan", "CHAOZHOU": "Chaozhou",
    "JIEYANG": "Jieyang", "YUNFU": "Yunfu",
}

# Basin code -> (name, prefectures it crosses). The first six are the plan's priority basins.
BASINS: dict[str, tuple[str, tuple[str, ...]]] = {
    "DANSHUI": ("Danshui River", ("SHENZHEN", "HUIZHOU")),
    "SHIMA": ("Shima River", ("DONGGUAN", "SHENZHEN")),
    "GUANGFO": ("Guangzhou-Foshan cross-border rivers", ("GUANGZHOU", "FOSHAN")),
    "MAOZHOU": ("Maozhou River", ("SHENZHEN", "DONGGUAN")),
    "LIANJIANG": ("Lianjiang River", ("SHANTOU", "JIEYANG")),
    "XIAODONG": ("Xiaodong River", ("MAOMING",)),
    "XIJIANG": ("Xi River (Pearl River system)", ("ZHAOQING", "YUNFU", "JIANGMEN")),
    "BEIJIANG": ("Bei River (Pearl River system)", ("SHAOGUAN", "QINGYUAN")),
    "DONGJIANG": ("Dong River (Pearl River system)", ("HEYUAN", "HUIZHOU", "DONGGUAN")),
    "HANJIANG": ("Han River", ("MEIZHOU", "CHAOZHOU", "SHANTOU")),
    "JIANJIANG": ("Jian River", ("MAOMING", "ZHANJIANG")),
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


def check_sector(code: str) -> str:
    if code not in SECTORS:
        raise UnknownReference(f"unknown sector {code!r}")
    return code
