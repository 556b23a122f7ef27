'&(DROP TABLE app.gone;
ALTER TABLE app.t DROP COLUMN note;
TRUNCATE app.old;
UPDATE app.t SET name = 'x';
