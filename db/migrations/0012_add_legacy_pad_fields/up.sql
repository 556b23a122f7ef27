-- Legacy fields of personal_account_dealing that had no home in pad_request,
-- added so the historical backfill loses nothing (review later: track
-- legacy_field_review). All nullable: new requests do not set them, and
-- NULL means "not recorded" for history. Legacy '1'/'2' flags map to true/false.
ALTER TABLE padealing.pad_request
	ADD COLUMN conflict_comments        text,
	ADD COLUMN other_comments           text,
	ADD COLUMN broker_reporting         boolean,
	ADD COLUMN is_derivative            boolean,
	ADD COLUMN is_leveraged             boolean,
	ADD COLUMN related_party_name       varchar(255),
	ADD COLUMN signed_declaration       boolean,
	ADD COLUMN updated_by_id            bigint,
	ADD COLUMN deleted_at               timestamptz,
	ADD COLUMN deleted_by_id            bigint,
	ADD COLUMN executed_within_two_days boolean;

COMMENT ON COLUMN padealing.pad_request.conflict_comments IS 'legacy: personal_account_dealing.conflict_comments';
COMMENT ON COLUMN padealing.pad_request.other_comments IS 'legacy: personal_account_dealing.other_comments';
COMMENT ON COLUMN padealing.pad_request.broker_reporting IS 'legacy: personal_account_dealing.broker_reporting_yn';
COMMENT ON COLUMN padealing.pad_request.is_derivative IS 'legacy: personal_account_dealing.derivative_contract_yn';
COMMENT ON COLUMN padealing.pad_request.is_leveraged IS 'legacy: personal_account_dealing.leveraged_yn';
COMMENT ON COLUMN padealing.pad_request.related_party_name IS 'legacy: name of the related party the trade is for';
COMMENT ON COLUMN padealing.pad_request.signed_declaration IS 'legacy: personal_account_dealing.signed_yn';
COMMENT ON COLUMN padealing.pad_request.updated_by_id IS 'legacy: personal_account_dealing.last_modified_by (bo_airflow.oracle_employee.id, no foreign key)';
COMMENT ON COLUMN padealing.pad_request.deleted_at IS 'soft delete; legacy: personal_account_dealing.is_deleted_yn';
COMMENT ON COLUMN padealing.pad_request.deleted_by_id IS 'soft delete (bo_airflow.oracle_employee.id, no foreign key); NULL for history';
COMMENT ON COLUMN padealing.pad_request.executed_within_two_days IS 'legacy: personal_account_dealing.two_business_days_execution_yn';
