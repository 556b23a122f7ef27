DROP TABLE padealing.pad_request;
