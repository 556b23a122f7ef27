DROP TABLE padealing.pad_approval;
