-- The application's own schema. bo_airflow (reference data synced from Oracle)
-- is owned by another team and is never created or changed from here.
CREATE SCHEMA IF NOT EXISTS padealing;

COMMENT ON SCHEMA padealing IS 'PA dealing application data (owned by the app; migrations live in db/migrations)';
