-- Nothing to change on SQLite: its error for an unnamed CHECK quotes the expression
-- ("CHECK constraint failed: available + credit_limit >= 0"), which names the ledger
-- rule a hold can break well enough (store::error::check_target). The PostgreSQL
-- migration of the same number names the constraint.
SELECT 1;
