"""The active ISO 4217 currencies and their minor units (ISO 4217 List One, 2025 edition).

A payment in ``XYZ`` is a typo or an attack, never a currency: :func:`payflows.domain.money.
validate_currency` refuses any code outside this table. Fund codes used only for accounting
(``BOV``, ``CHE``, ``CLF``...) and the precious-metal, testing and "no currency" codes
(``XAU``, ``XTS``, ``XXX``...) are left out: nobody pays a card purchase in them.
The exponent is the number of decimals of the minor unit (``JPY`` 0, ``KWD`` 3).
"""

from __future__ import annotations

__all__ = ["ISO_4217"]

_BY_EXPONENT: dict[int, str] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF",
    3: "BHD IQD JOD KWD LYD OMR TND",
    2: (
        "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP "
        "BYN BZD CAD CDF CHF CNY COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP "
        "GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT "
        "LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN "
        "NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP "
        "SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES "
        "VED WST XCD XCG YER ZAR ZMW ZWG"
    ),
}

#: Every active currency code -> the decimals of its minor unit.
ISO_4217: dict[str, int] = {
    code: exponent for exponent, codes in _BY_EXPONENT.items() for code in codes.split()
}
