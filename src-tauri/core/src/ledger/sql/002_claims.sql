-- A claim: a provider was asked to send the customer a verification code
-- (Telesend initiate-claim). No money moves; the redemption that follows is
-- a transaction of its own. One open claim per voucher across every till.
CREATE TABLE claims (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    till_id TEXT NOT NULL,
    cashier TEXT NOT NULL,
    provider TEXT NOT NULL,
    voucher_code TEXT NOT NULL,
    code_masked TEXT NOT NULL,
    amount_minor INTEGER,                -- NULL: the whole remaining value
    currency TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('open', 'redeemed', 'cancelled', 'expired')),
    training INTEGER NOT NULL CHECK (training IN (0, 1))
) STRICT;

CREATE UNIQUE INDEX claims_one_open ON claims (provider, voucher_code) WHERE state = 'open';
