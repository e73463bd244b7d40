-- Who minted each API token (they saw its secret once): a deploy approval
-- may not be approved by them, as by the token's owner.
ALTER TABLE api_tokens ADD COLUMN created_by bigint REFERENCES users (id) ON DELETE SET NULL;
