-- The language a user reads the console in, chosen by the user (PATCH /v1/me, the
-- console's EN/RU switch) so it follows them to another browser.
ALTER TABLE users ADD COLUMN language TEXT NOT NULL DEFAULT 'en' CHECK (language IN ('en', 'ru'));
