"""Field types every registry-area schema shares: credit codes, kinds, quantities, references.

Quantities are strict integers of the smallest unit (kg, kgce): a float or a numeric string is
refused, never rounded. Reference data (kinds, sectors, cities, basins) comes from
``domain.reference``, so the OpenAPI schema lists exactly what the domain accepts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeAlias

from pydantic import BaseModel, ConfigDict, Field

from domain.reference import BASINS, KINDS, PREFECTURES, SECTORS

MAX_QUANTITY = 10**15  # kg: far above Guangdong's yearly totals, far below int64

CREDIT_CODE_PATTERN = r"^[0-9A-HJ-NPQRTUWXY]{18}$"
CreditCode = Annotated[str, Field(pattern=CREDIT_CODE_PATTERN,
                                  description="unified social credit code (GB 32100-2015)")]
if TYPE_CHECKING:  # the type checker sees plain strings; pydantic sees the closed sets
    Kind: TypeAlias = str
    Sector: TypeAlias = str
    Prefecture: TypeAlias = str
    Basin: TypeAlias = str
else:
    Kind = Literal[tuple(KINDS)]
    Sector = Literal[tuple(SECTORS)]
    Prefecture = Literal[tuple(PREFECTURES)]
    Basin = Literal[tuple(BASINS)]
Year = Annotated[int, Field(strict=True, ge=2000, le=2100)]
Quantity = Annotated[int, Field(strict=True, gt=0, le=MAX_QUANTITY,
                                description="kg (kgce for ENERGY)")]
Amount = Annotated[int, Field(strict=True, ge=0, le=MAX_QUANTITY,
                              description="kg (kgce for ENERGY)")]
Ref = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:#-]{0,79}$",
                           description="a document or project reference")]
Text = Annotated[str, Field(min_length=1, max_length=500, pattern=r"\S")]
#: a handle a caller may choose for what it creates (agreement reference, auction or bid id)
HANDLE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$",
                              description="lowercase hex SHA-256 of the report file")]
INSTRUMENT_PATTERN = r"^[A-Z0-9]{2,8}-[0-9]{4}-[A-Z0-9_]{2,24}$"
SERIAL_PATTERN = r"^[A-Z0-9]{2,8}-[0-9]{4}-[A-Z0-9_]{2,24}-[0-9]{1,12}$"
InstrumentCode = Annotated[str, Field(pattern=INSTRUMENT_PATTERN,
                                      description="KIND-VINTAGE-ZONE")]


class Body(BaseModel):
    """A request body: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid")


class Out(BaseModel):
    """A response body."""

    model_config = ConfigDict(extra="forbid")


class TermOut(Out):
    """The years an instrument's units are annual rights for: a unit is the right to 1 kg
    (kgce) a year for the rest of the term; it expires after ``ends_on``."""

    first_year: int
    last_year: int
    ends_on: str


class Balance(Out):
    """Units of one enterprise in one instrument by state. ``available`` counts frozen units
    too; ``usable`` (available − frozen) is what can be reserved, sold or retired now."""

    enterprise: str
    instrument: str
    term: TermOut | None = None  # the years the units are annual rights for
    available: int
    usable: int
    frozen: int
    reserved: int
    consumed: int
    retired: int
    expired: int
    revoked: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> Balance:
        fields = {k: row[k] for k in cls.model_fields if k in row}
        return cls(usable=row["available"] - row["frozen"], **fields)

