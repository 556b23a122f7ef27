-- RESTRICT (the default): refuses to drop a schema that still holds objects,
-- so this only succeeds once every later migration has been rolled back.
DROP SCHEMA IF EXISTS padealing;
