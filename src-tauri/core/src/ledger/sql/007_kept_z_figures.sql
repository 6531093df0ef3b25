-- The Z report's figures as printed at close, kept on the shift (JSON:
-- ledger/shifts.rs `KeptZ`), written in the transaction that closes it. A
-- reprint reads these, never a recount: a transaction settled after the
-- close would change a recount, and the copy must match the original.
-- NULL for shifts still open, and for shifts closed before this version
-- (they cannot be reprinted exactly; their PDF is under reports/).
ALTER TABLE shifts ADD COLUMN z_figures TEXT;
