-- Keep updated_at honest whichever client writes the row (the app, the
-- dashboard, a manual fix in psql).
CREATE FUNCTION padealing.set_updated_at() RETURNS trigger
	LANGUAGE plpgsql
AS $$
BEGIN
	NEW.updated_at := now();
	RETURN NEW;
END;
$$;

CREATE TRIGGER pad_request_set_updated_at
	BEFORE UPDATE ON padealing.pad_request
	FOR EACH ROW EXECUTE FUNCTION padealing.set_updated_at();

CREATE TRIGGER compliance_config_set_updated_at
	BEFORE UPDATE ON padealing.compliance_config
	FOR EACH ROW EXECUTE FUNCTION padealing.set_updated_at();

CREATE TRIGGER chatbot_session_set_updated_at
	BEFORE UPDATE ON padealing.chatbot_session
	FOR EACH ROW EXECUTE FUNCTION padealing.set_updated_at();
