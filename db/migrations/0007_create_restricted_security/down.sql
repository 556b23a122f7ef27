DROP TABLE padealing.restricted_security;
