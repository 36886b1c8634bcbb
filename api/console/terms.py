"""The domain's words as the console shows them: every code the registry stores (indicator
kinds, unit states, retrofit stages, credit standings, sectors, prefectures, river basins)
mapped to an English label that is also the msgid of its translation (``N_`` marks them for
``pybabel extract``; the templates translate them with ``_``)."""

from __future__ import annotations

from domain.reference import BASINS, PREFECTURES, PROVINCE, SECTORS


def N_(message: str) -> str:  # noqa: N802 - gettext's name for "mark, translate later"
    return message


KIND_NAMES = {
    "COD": N_("Chemical oxygen demand (COD)"),
    "NH3N": N_("Ammonia nitrogen (NH₃-N)"),
    "NOX": N_("Nitrogen oxides (NOx)"),
    "SO2": N_("Sulphur dioxide (SO₂)"),
    "VOC": N_("Volatile organic compounds (VOCs)"),
    "ENERGY": N_("Energy-use rights (tce)"),
}
FAMILY_NAMES = {
    "water": N_("Emission rights: water pollutants"),
    "air": N_("Emission rights: air pollutants"),
    "energy": N_("Energy-use rights"),
}
UNIT_STATES = {
    "available": N_("available"),
    "reserved": N_("reserved"),
    "consumed": N_("consumed (capacity expansion)"),
    "retired": N_("retired"),
    "expired": N_("expired"),
    "revoked": N_("revoked"),
    "frozen": N_("frozen"),
}
RETROFIT_STATES = {
    "registered": N_("registered"),
    "baseline_audited": N_("baseline audited"),
    "post_audited": N_("post-retrofit audited"),
    "verified": N_("verified"),
    "confirmed": N_("confirmed"),
    "issued": N_("issued"),
    "revoked": N_("revoked"),
}
STAGES = {
    "baseline_audit": N_("Baseline audit"),
    "post_audit": N_("Post-retrofit audit"),
    "verification": N_("Verification"),
}
STANDINGS = {"good": N_("good standing"), "restricted": N_("restricted")}
CREDIT_CHANGES = {"restricted": N_("restricted"), "restored": N_("restored")}
ROLES = {"enterprise": N_("Enterprise"), "agency": N_("Agency")}
ACCOUNT_ROLES = {**ROLES, "administrator": N_("Administrator"), "auditor": N_("Auditor")}
# units are annual rights: a quantity is tonnes a year, a price is per tonne a year
UNITS = {"t": N_("t/a"), "tce": N_("tce/a")}
PRICE_UNITS = {"t": N_("CNY per t/a"), "tce": N_("CNY per tce/a")}
CURRENCY = N_("CNY")
TRADE_STATES = {"settled": N_("settled"), "pending": N_("pending"), "rejected": N_("rejected")}
ORDER_STATES = {"open": N_("open"), "filled": N_("filled"), "cancelled": N_("cancelled"),
                "expired": N_("expired")}
SIDES = {"buy": N_("buy"), "sell": N_("sell")}
AGREEMENT_STATES = {"offered": N_("offered"), "accepted": N_("accepted"),
                    "settled": N_("settled"), "rejected": N_("rejected"),
                    "withdrawn": N_("withdrawn")}
EXPANSION_STATES = {"submitted": N_("under review"), "approved": N_("approved"),
                    "rejected": N_("rejected")}
REQUEST_STATES = {"pending": N_("awaiting a second representative"),
                  "approved": N_("confirmed"), "rejected": N_("rejected"),
                  "withdrawn": N_("withdrawn"), "expired": N_("expired")}
AUCTION_STATES = {"open": N_("open for bids"), "cleared": N_("cleared"), "voided": N_("voided")}
ENGAGEMENT_ROLES = {"audit": N_("audits"), "verification": N_("verification")}

SECTOR_NAMES = {
    "THERMAL_POWER": N_("Thermal power"),
    "PETROCHEMICAL": N_("Petrochemical and chemical"),
    "IRON_STEEL": N_("Iron and steel"),
    "NONFERROUS": N_("Non-ferrous metals"),
    "BUILDING_MATERIALS": N_("Building materials"),
    "PAPER": N_("Papermaking"),
    "TEXTILE_DYEING": N_("Textile printing and dyeing"),
    "ELECTRONICS": N_("Electronics"),
    "APPLIANCES": N_("Household appliances"),
    "AUTOMOBILES": N_("Automobiles"),
}
PREFECTURE_NAMES = {
    "GUANGZHOU": N_("Guangzhou"), "SHENZHEN": N_("Shenzhen"), "ZHUHAI": N_("Zhuhai"),
    "SHANTOU": N_("Shantou"), "FOSHAN": N_("Foshan"), "SHAOGUAN": N_("Shaoguan"),
    "HEYUAN": N_("Heyuan"), "MEIZHOU": N_("Meizhou"), "HUIZHOU": N_("Huizhou"),
    "SHANWEI": N_("Shanwei"), "DONGGUAN": N_("Dongguan"), "ZHONGSHAN": N_("Zhongshan"),
    "JIANGMEN": N_("Jiangmen"), "YANGJIANG": N_("Yangjiang"), "ZHANJIANG": N_("Zhanjiang"),
    "MAOMING": N_("Maoming"), "ZHAOQING": N_("Zhaoqing"), "QINGYUAN": N_("Qingyuan"),
    "CHAOZHOU": N_("Chaozhou"), "JIEYANG": N_("Jieyang"), "YUNFU": N_("Yunfu"),
}
BASIN_NAMES = {
    "DANSHUI": N_("Danshui River"),
    "SHIMA": N_("Shima River"),
    "GUANGFO": N_("Guangzhou-Foshan cross-border rivers"),
    "MAOZHOU": N_("Maozhou River"),
    "LIANJIANG": N_("Lianjiang River"),
    "XIAODONG": N_("Xiaodong River"),
    "XIJIANG": N_("Xi River (Pearl River system)"),
    "BEIJIANG": N_("Bei River (Pearl River system)"),
    "DONGJIANG": N_("Dong River (Pearl River system)"),
    "HANJIANG": N_("Han River"),
    "JIANJIANG": N_("Jian River"),
    "RONGJIANG": N_("Rong River"),
    "MOYANG": N_("Moyang River"),
    "EAST_COAST": N_("Eastern coastal rivers (Huangjiang, Luhe)"),
}
PROVINCE_NAME = N_("Guangdong Province")


def zone_name(zone: str) -> str:
    """The English label (msgid) of a trading zone: a river basin, a prefecture, the province."""
    if zone == PROVINCE:
        return PROVINCE_NAME
    return BASIN_NAMES.get(zone) or PREFECTURE_NAMES.get(zone) or zone


def label(table: dict[str, str], code: str) -> str:
    """The label of ``code`` in ``table``, or the code itself for one the table lacks."""
    return table.get(code, code)


# The reference data is the source of the codes: a code added there without a label here
# would show raw, so the console's own test compares the two.
REFERENCE_TABLES = ((SECTOR_NAMES, SECTORS), (PREFECTURE_NAMES, PREFECTURES),
                    (BASIN_NAMES, BASINS))
