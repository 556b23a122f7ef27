DROP TABLE padealing.pad_breach;
