-- A depot (group) can be deactivated once it holds nothing live (POST
-- /v1/groups/{id}/deactivate); a deactivated group takes no new users, vehicles, cards or
-- child groups. Existing rows are active.
ALTER TABLE groups ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
    CHECK (status IN ('active', 'deactivated'));
