-- The full input of the call an approval is for (the command, the file content, the edit), so the
-- operator can read exactly what would run through the API and `spacebot approvals show`, whatever
-- a platform message had room for. NULL for approvals recorded before this column.
ALTER TABLE approvals ADD COLUMN input jsonb;
