SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'padealing') AS ok;
