DROP TABLE padealing.compliance_config;
