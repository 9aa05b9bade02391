-- The ledger rule a hold can break gets a name: the hold is an UPDATE the rule itself
-- refuses (a failed statement stops the COMMIT sent with it), and the store tells that
-- refusal from others by the constraint's name (store::error::check_target). 0003 left it
-- unnamed, so PostgreSQL named it by position; find it by its definition instead.
DO $$
DECLARE
    found TEXT;
BEGIN
    SELECT conname INTO found FROM pg_constraint
     WHERE conrelid = 'accounts'::regclass AND contype = 'c'
       AND pg_get_constraintdef(oid) = 'CHECK (((available + credit_limit) >= 0))';
    EXECUTE format('ALTER TABLE accounts RENAME CONSTRAINT %I TO accounts_funds_cover', found);
END $$;
