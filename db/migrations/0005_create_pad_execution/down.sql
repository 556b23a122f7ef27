DROP TABLE padealing.pad_execution;
