"""The exchange: cash accounts, markets (order books with settlement), agreements, auctions.

Money is integer fen; prices are fen per tonne; quantities are the instrument's smallest unit
(kg or kgce). See `domain.exchange.money` for the price unit and the rule that makes every value
an exact integer.
"""
